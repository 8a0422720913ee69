#!/usr/bin/python3
"""The control socket (GREENHUB_CONTROL) and greentop, against top_fixture.

Checks: the socket's mode is 0600 under umask 0; its descriptor is private
(high) and its thread blocks signals; each request's JSON (hubs, greenlets,
counters, dump, an unknown request) describes the fixture's known greenlets
(names, states, what they wait on, the reader's fd); the dump names the
fixture's functions; greentop --once --json, --dump and the live screen
(in tmux, captured) show them; the socket is refused when PATH is a file or
a live socket, replaced when stale, and removed at exit.

usage: greentop_test.py --preload SO --fixture EXE --greentop SCRIPT
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, exit_status  # noqa: E402
from fixture_process import FixtureProcess, wait_for  # noqa: E402



def request(path, *lines):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        answers = []
        buf = b""
        for line in lines:
            s.sendall(line.encode() + b"\n")
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed")
                buf += chunk
            answer, buf = buf.split(b"\n", 1)
            answers.append(json.loads(answer))
        return answers


def socket_is_live(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
            return True
        except ConnectionRefusedError:
            return False


def by_name(greenlets):
    return {g["name"]: g for g in greenlets}


def test_requests(path, fx):
    hubs, greenlets, counters, dump, bad, help_ = request(
        path, "hubs", "greenlets", "counters", "dump", "no-such-request", "help")

    check(hubs["pid"] == fx.pid and hubs["request"] == "hubs", "hubs: pid and request echoed")
    check(len(hubs["hubs"]) == 2, f"hubs: 2 hubs (GREENHUB_HUBS=2): {len(hubs['hubs'])}")
    tids = {int(t) for t in os.listdir(f"/proc/{fx.pid}/task")}
    for h in hubs["hubs"]:
        check(h["responsive"] is True, f"hub {h['hub']} responsive")
        check(h["tid"] in tids, f"hub {h['hub']} tid {h['tid']} is a thread of the fixture")
        check(isinstance(h["loop_lag_ms"], (int, float)) and 0 <= h["loop_lag_ms"] < 1000,
              f"hub {h['hub']} loop lag {h['loop_lag_ms']} ms")
        check(h["switches"] > 0 and h["switches_per_s"] >= 0, f"hub {h['hub']} switch counters")
    check(hubs["hubs"][0]["tid"] == fx.pid, "hub 0 runs on the main thread")
    check(sum(h["greenlets"] for h in hubs["hubs"]) == 4,
          f"hubs: 4 live greenlets in all: {[h['greenlets'] for h in hubs['hubs']]}")
    check(all(h["runnable"] == 0 for h in hubs["hubs"]), "hubs: nothing runnable (all wait)")

    gl = by_name(greenlets["greenlets"])
    check(set(gl) == {"main", "reader", "sleeper", "waiter"}, f"greenlet names: {sorted(gl)}")
    for name in ("main", "reader", "sleeper", "waiter"):
        g = gl.get(name, {})
        check(g.get("state") == "parked", f"{name} is parked: {g.get('state')}")
        check(isinstance(g.get("waiting_s"), (int, float)) and 0 <= g["waiting_s"] < 120,
              f"{name} has a wait time: {g.get('waiting_s')}")
        check(abs(g["since_unix"] + g["waiting_s"] - time.time()) < 60,
              f"{name}'s wait began at a wall-clock time: {g.get('since_unix')}")
    check(gl["reader"]["waiting_on"] == "recv" and gl["reader"]["fd"] == fx.reader_fd,
          f"reader waits in recv on fd {fx.reader_fd}: {gl['reader']['waiting_on']} "
          f"fd {gl['reader']['fd']}")
    check(gl["sleeper"]["waiting_on"] == "sleep" and gl["sleeper"]["fd"] is None,
          f"sleeper waits in sleep: {gl['sleeper']['waiting_on']}")
    check(gl["main"]["waiting_on"] == "read" and gl["main"]["fd"] == 0,
          f"main waits in read on fd 0: {gl['main']['waiting_on']} fd {gl['main']['fd']}")
    check(gl["main"]["main"] is True and gl["main"]["hub"] == 0, "main is hub 0's main greenlet")
    check(all(gl[n]["green_thread"] for n in ("reader", "sleeper", "waiter")),
          "the pthreads are green threads")
    check(gl["waiter"]["waiting_on"] is not None, f"waiter waits on {gl['waiter']['waiting_on']}")
    check(len({g["id"] for g in greenlets["greenlets"]}) == 4, "greenlet ids are distinct")
    time.sleep(1.2)
    later = by_name(request(path, "greenlets")[0]["greenlets"])["reader"]
    check(later["since"] == gl["reader"]["since"] and
          later["waiting_s"] - gl["reader"]["waiting_s"] >= 1.0,
          f"the reader's wait keeps its start and grows: {gl['reader']['waiting_s']} -> "
          f"{later['waiting_s']}")

    check(counters["request"] == "counters" and isinstance(counters["counters"], list),
          "counters answer is a list")
    check(counters["available"] is True, "counters are kept while the control socket is on")
    for c in counters["counters"]:
        check(c["calls"] == c["green"] + c["passthrough"] == sum(c["routes"].values()),
              f"counters of {c['call']} add up: {c}")

    dl = by_name(dump["greenlets"])
    for name, function in (("reader", "fixture_reader_wait"), ("sleeper", "fixture_sleeper_wait"),
                           ("waiter", "fixture_cond_wait"), ("main", "fixture_main_wait")):
        functions = [f["function"] for f in dl[name]["backtrace"]]
        check(function in functions, f"dump: {name}'s backtrace names {function}: {functions}")
    reader_functions = [f["function"] or "" for f in dl["reader"]["backtrace"]]
    check(reader_functions.index("fixture_reader_wait") > 0 and
          any(f in ("recv", "recvfrom") for f in reader_functions),
          "dump: the reader's frames run from recv's shim out to fixture_reader_wait")

    check("error" in bad and "no-such-request" in bad["error"], f"unknown request: {bad}")
    check(set(help_["requests"]) >= {"hubs", "greenlets", "counters", "dump"}, "help lists requests")


def test_socket_file(path, fx):
    st = os.lstat(path)
    check(stat.S_ISSOCK(st.st_mode), "PATH is a socket")
    check(stat.S_IMODE(st.st_mode) == 0o600,
          f"socket mode is 0600 under umask 0: {oct(stat.S_IMODE(st.st_mode))}")
    inode = None
    with open("/proc/net/unix") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[-1] == path:
                inode = fields[6]
    fds = [int(fd) for fd in os.listdir(f"/proc/{fx.pid}/fd")
           if os.readlink(f"/proc/{fx.pid}/fd/{fd}") == f"socket:[{inode}]"]
    check(len(fds) == 1 and fds[0] >= 100, f"the listening socket is a high private fd: {fds}")
    ctl = None
    for tid in os.listdir(f"/proc/{fx.pid}/task"):
        with open(f"/proc/{fx.pid}/task/{tid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        if status["Name"].strip() == "greenhub-ctl":
            ctl = int(status["SigBlk"].strip(), 16)
    check(ctl is not None, "a thread named greenhub-ctl serves the socket")
    if ctl is not None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD, signal.SIGALRM,
                    signal.SIGPIPE, signal.SIGWINCH):
            check(ctl & (1 << (sig - 1)), f"greenhub-ctl blocks {sig.name}")


def test_greentop_cli(path, fx, greentop):
    out = subprocess.run([greentop, "--once", "--json", path], capture_output=True, timeout=30)
    check(out.returncode == 0, f"greentop --once --json exits 0: {out.stderr.decode()}")
    snap = json.loads(out.stdout)
    check(set(snap) == {"hubs", "greenlets", "counters"}, f"snapshot parts: {sorted(snap)}")
    check(by_name(snap["greenlets"]["greenlets"])["reader"]["fd"] == fx.reader_fd,
          "greentop --once --json: the reader's fd")

    out = subprocess.run([greentop, "--dump", path], capture_output=True, timeout=30)
    text = out.stdout.decode()
    check(out.returncode == 0, "greentop --dump exits 0")
    check(re.search(r'greenlet \d+ "reader" hub \d: parked in recv fd %d' % fx.reader_fd, text),
          "greentop --dump: the reader's header line")
    for function in ("fixture_reader_wait", "fixture_sleeper_wait", "fixture_cond_wait",
                     "fixture_main_wait"):
        check(function in text, f"greentop --dump names {function}")

    out = subprocess.run([greentop, "--once", path], capture_output=True, timeout=30)
    check(out.returncode == 0 and "reader" in out.stdout.decode(), "greentop --once (text)")

    out = subprocess.run([greentop, "--bogus", path], capture_output=True, timeout=30)
    check(out.returncode == 2 and b"usage" in out.stderr, "greentop: a bad option exits 2 with usage")
    out = subprocess.run([greentop, "--once", path + ".missing"], capture_output=True, timeout=30)
    check(out.returncode == 1 and b"cannot connect" in out.stderr,
          f"greentop: a missing socket exits 1 clearly: {out.stderr.decode().strip()}")


def test_live_screen(path, fx, greentop, tmp):
    tmux = shutil.which("tmux")
    check(tmux is not None, "tmux is installed")
    if tmux is None:
        return
    server = ["tmux", "-L", f"greentop-test-{os.getpid()}", "-f", "/dev/null"]
    session = "greentop"
    subprocess.run(server + ["new-session", "-d", "-s", session, "-x", "110", "-y", "30",
                             f"{greentop} {path}; echo greentop-exit=$?; sleep 30"],
                   check=True, timeout=10)
    try:
        def capture():
            return subprocess.run(server + ["capture-pane", "-p", "-t", session],
                                  capture_output=True, timeout=10).stdout.decode()

        wait_for(lambda: "reader" in capture(), what="greentop's first screen")
        screen = capture()
        print(screen)
        check(f"greentop - pid {fx.pid}" in screen, "live: the header names the pid")
        check("2 hubs" in screen and "4 greenlets" in screen, "live: hub and greenlet counts")
        row = next((l for l in screen.splitlines() if " reader " in l), "")
        check("recv" in row and f" {fx.reader_fd} " in row and "parked" in row,
              f"live: the reader's row: {row!r}")
        check("*WAIT(s)" in screen, "live: sorted by wait time at first")

        subprocess.run(server + ["send-keys", "-t", session, "n"], check=True, timeout=10)
        wait_for(lambda: "*NAME" in capture(), what="sort by name")
        names = [l.split()[2] for l in capture().splitlines()
                 if re.match(r"\s*\d+\s+\d\s+\S+\s+parked", l)]
        check(names == sorted(names) and len(names) == 4, f"live: sorted by name: {names}")
        subprocess.run(server + ["send-keys", "-t", session, "r"], check=True, timeout=10)
        wait_for(lambda: [l.split()[2] for l in capture().splitlines()
                          if re.match(r"\s*\d+\s+\d\s+\S+\s+parked", l)] == sorted(names)[::-1],
                 what="reversed order")
        check(True, "live: r reverses the order")

        subprocess.run(server + ["send-keys", "-t", session, "q"], check=True, timeout=10)
        wait_for(lambda: "greentop-exit=0" in capture(), what="greentop to quit on q")
        check(True, "live: q quits with status 0")
    finally:
        subprocess.run(server + ["kill-server"], capture_output=True, timeout=10)


def test_stalled_hub(fixture, preload, tmp):
    # A green thread spinning on hub 1 keeps it from switching: the control
    # socket still answers (hub 0's greenlets), and reports hub 1 stalled.
    path = os.path.join(tmp, "stalled")
    fx = FixtureProcess(fixture, preload, control=path, args=("spin", "6"),
                        extra_env={"GREENHUB_MAX_BLOCKING_MS": "0"})
    try:
        start = time.monotonic()
        hubs, greenlets = request(path, "hubs", "greenlets")
        took = time.monotonic() - start
        check(took < 5, f"a stalled hub does not hang the control socket: {took:.1f} s")
        states = [h["responsive"] for h in hubs["hubs"]]
        check(states == [True, False], f"hub 1 is reported stalled, hub 0 responsive: {states}")
        stalled = hubs["hubs"][1]
        check(stalled["tid"] is None and stalled["loop_lag_ms"] is None,
              "a stalled hub's live data is null, not invented")
        check(greenlets["unresponsive_hubs"] == [1], "greenlets: hub 1 listed as unresponsive")
        names = {g["name"] for g in greenlets["greenlets"]}
        check(names == {"main", "reader", "waiter"}, f"greenlets: hub 0's are listed: {names}")
        # Once the spin is over, hub 1 answers again.
        wait_for(lambda: request(path, "hubs")[0]["hubs"][1]["responsive"], timeout=20,
                 what="hub 1 to answer after its spin")
        check(True, "the hub answers again once it switches")
    finally:
        fx.finish()


def test_refusals(fixture, preload, tmp):
    # PATH is a regular file: refused clearly, the program still runs.
    path = os.path.join(tmp, "file")
    with open(path, "w") as f:
        f.write("keep me\n")
    fx = FixtureProcess(fixture, preload, control=path)
    status, err = fx.finish()
    check(status == 0 and "exists and is not a socket" in err and
          open(path).read() == "keep me\n",
          f"a file at PATH is refused and left alone: {err.strip()}")

    # A live socket: refused; the first server keeps it.
    path = os.path.join(tmp, "live")
    first = FixtureProcess(fixture, preload, control=path)
    try:
        second = FixtureProcess(fixture, preload, control=path)
        status, err = second.finish()
        check(status == 0 and "another process is serving" in err,
              f"a live socket is refused: {err.strip()}")
        check(request(path, "hubs")[0]["pid"] == first.pid, "the first process keeps its socket")
    finally:
        first.kill()
    # first was killed: its socket is stale; a new process replaces it.
    check(os.path.exists(path), "a killed process leaves a stale socket")
    third = FixtureProcess(fixture, preload, control=path)
    try:
        check(request(path, "hubs")[0]["pid"] == third.pid, "a stale socket is replaced")
    finally:
        status, err = third.finish()
    check(status == 0 and not os.path.exists(path), "the socket is removed at exit")

    # "%p" in PATH: the process id.
    fx = FixtureProcess(fixture, preload, control=os.path.join(tmp, "ctl.%p"))
    own = os.path.join(tmp, f"ctl.{fx.pid}")
    check(os.path.exists(own) and request(own, "hubs")[0]["pid"] == fx.pid,
          "%p in GREENHUB_CONTROL is the process id")
    fx.finish()

    # A program started by the serving process inherits the variable: it runs
    # without a socket, quietly, and the parent keeps serving.
    path = os.path.join(tmp, "inherited")
    env = dict(os.environ, LD_PRELOAD=preload, GREENHUB_CONTROL=path)
    out = subprocess.run(["/bin/sh", "-c", f"{fixture} </dev/null; echo status=$?"],
                         env=env, capture_output=True, timeout=60)
    check(out.stdout.decode().endswith("status=0\n") and b"greenhub:" not in out.stderr,
          f"a child of the serving process runs quietly without a socket: "
          f"{out.stdout.decode()!r} {out.stderr.decode()!r}")
    # dash ends with _exit, which runs no atexit handler: its socket stays, stale.
    check(not os.path.exists(path) or not socket_is_live(path),
          "nothing serves the parent's socket after it ended")

    long_path = os.path.join(tmp, "x" * 120)
    fx = FixtureProcess(fixture, preload, control=long_path)
    status, err = fx.finish()
    check(status == 0 and "path longer than" in err, f"a too long path is refused: {err.strip()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preload", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--greentop", required=True)
    args = ap.parse_args()
    for name in ("preload", "fixture"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    tmp = tempfile.mkdtemp(prefix="greentop-test-")
    try:
        path = os.path.join(tmp, "control.sock")
        fx = FixtureProcess(args.fixture, args.preload, control=path, umask=0)
        try:
            test_socket_file(path, fx)
            test_requests(path, fx)
            test_greentop_cli(path, fx, args.greentop)
            test_live_screen(path, fx, args.greentop, tmp)
        finally:
            if fx.proc.poll() is None:
                status, err = fx.finish()
                check(status == 0, f"the fixture exits 0: {err.strip()}")
        check(not os.path.exists(path), "the socket file is removed at exit")
        test_stalled_hub(args.fixture, args.preload, tmp)
        test_refusals(args.fixture, args.preload, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
