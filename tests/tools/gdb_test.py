#!/usr/bin/python3
"""The gdb commands (tools/gdb/greenhub.py) in batch mode, against top_fixture.

Attached to the live process, and on the kernel's core dump of the fixture
killed by SIGABRT (gdb's own gcore writes the greenlet stack slabs as zeros
where the stack pool installed guard regions with MADV_GUARD_INSTALL, so a
gcore file holds no saved contexts to unwind): `info greenlets`
lists the fixture's four greenlets (names, parked, the reader's recv on its
fd), and `greenlet bt ID` prints a backtrace that names the function each
green thread is parked in. The auto-load stub makes the commands available
without `source`.

usage: gdb_test.py --preload SO --fixture EXE --script greenhub.py --autoload STUB
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, exit_status  # noqa: E402
from fixture_process import FixtureProcess  # noqa: E402



def gdb(args, commands, pre=()):
    cmd = ["gdb", "-batch", "-nx"]
    for c in pre:
        cmd += ["-iex", c]
    cmd += args
    for c in commands:
        cmd += ["-ex", c]
    out = subprocess.run(cmd, capture_output=True, timeout=240)
    return out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")


ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\w+)\s+(\S+)\s*(.*)$")


def parse_greenlets(text):
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(5)] = {"id": int(m.group(1)), "hub": int(m.group(2)),
                                "state": m.group(4), "waiting": m.group(6).strip()}
    return rows


def check_listing(text, fx, where):
    rows = parse_greenlets(text)
    check(set(rows) == {"main", "reader", "sleeper", "waiter"},
          f"{where}: info greenlets lists the fixture's greenlets: {sorted(rows)}\n{text}")
    check(all(r["state"] == "parked" for r in rows.values()), f"{where}: all parked")
    if "reader" in rows:
        check(rows["reader"]["waiting"] == f"recv fd {fx.reader_fd}",
              f"{where}: reader waits in recv fd {fx.reader_fd}: {rows['reader']['waiting']!r}")
    if "sleeper" in rows:
        check(rows["sleeper"]["waiting"] == "sleep", f"{where}: sleeper waits in sleep")
    if "main" in rows:
        check(rows["main"]["waiting"] == "read fd 0" and rows["main"]["hub"] == 0,
              f"{where}: main waits in read fd 0 on hub 0")
    return rows


def bt_frames(text):
    """The frame lines `greenlet bt` printed (after its header line)."""
    start = text.find("\ngreenlet ")
    return [l for l in text[start + 1:].splitlines() if re.match(r"^#\d+\s+0x", l)] \
        if start >= 0 else []


def check_backtraces(run, rows, where):
    for name, function in (("reader", "fixture_reader_wait"), ("sleeper", "fixture_sleeper_wait"),
                           ("waiter", "fixture_cond_wait"), ("main", "fixture_main_wait")):
        if name not in rows:
            continue
        text = run([f"greenlet bt {rows[name]['id']}"])
        frames = bt_frames(text)
        named = [l for l in frames if f" in {function} " in l or l.endswith(f" in {function}")]
        check(named and frames.index(named[0]) > 0 and "top_fixture.c" in named[0],
              f"{where}: greenlet bt {name} names {function} with its source line:\n{text}")
    if "reader" in rows:
        text = run([f"greenlet bt {rows['reader']['id']}"])
        frames = bt_frames(text)
        check(frames and any(" in greenhub::Hub::switch_to " in l for l in frames[:2]) and
              any(re.search(r" in recv(from)? at ", l) for l in frames),
              f"{where}: the reader's frames start where it switched out and pass recv's shim:\n"
              + "\n".join(frames))
    text = run(["greenlet bt 999999"])
    check("no greenlet 999999" in text, f"{where}: an unknown id is refused clearly")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preload", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--autoload", required=True)
    args = ap.parse_args()
    for name in ("preload", "fixture"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    tmp = tempfile.mkdtemp(prefix="greenhub-gdb-test-")
    fx = FixtureProcess(args.fixture, args.preload, hubs=2)
    try:
        source = f"source {args.script}"

        def live(commands):
            return gdb(["-p", str(fx.pid)], [source] + commands)

        text = live(["info greenlets"])
        print(text)
        rows = check_listing(text, fx, "live")
        check_backtraces(live, rows, "live")

        # The auto-load stub, found as gdb finds an installed one:
        # SCRIPTS-DIRECTORY/<absolute path of the library>-gdb.py.
        auto = os.path.join(tmp, "auto-load")
        stub = auto + os.path.realpath(args.preload) + "-gdb.py"
        os.makedirs(os.path.dirname(stub))
        shutil.copy(args.autoload, stub)
        text = gdb(["-p", str(fx.pid)], ["info greenlets"],
                   pre=["set auto-load safe-path /", f"add-auto-load-scripts-directory {auto}"])
        check("reader" in text and "sleeper" in text,
              f"auto-loaded with libgreenhub_preload.so: info greenlets works\n{text}")

    finally:
        status, err = fx.finish()
        check(status == 0, f"the fixture still exits 0 after gdb: {err.strip()}")

    # Post mortem: a kernel core dump of the fixture killed by SIGABRT.
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
        check(not pattern.startswith("|") and "/" not in pattern,
              f"kernel core dumps land in the working directory (core_pattern {pattern!r})")
        core_dir = os.path.join(tmp, "cores")
        os.makedirs(core_dir)
        fx = FixtureProcess(args.fixture, args.preload, hubs=2, core_dir=core_dir)
        os.kill(fx.pid, signal.SIGABRT)
        fx.proc.wait(timeout=60)
        cores = [os.path.join(core_dir, c) for c in os.listdir(core_dir) if c.startswith("core")]
        check(fx.proc.returncode == -signal.SIGABRT and len(cores) == 1,
              f"the fixture dumped a core: {cores}")
        if cores:
            def post_mortem(commands):
                return gdb([args.fixture, cores[0]], [source] + commands)

            text = post_mortem(["info greenlets"])
            print(text)
            rows = check_listing(text, fx, "core")
            check_backtraces(post_mortem, rows, "core")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
