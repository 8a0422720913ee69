#!/usr/bin/python3
"""greentrace against a known fixture run (trace_fixture.c) under the preload
with GREENHUB_TRACE, on 1 and 2 hubs: the summary's tables hold the
fixture's calls with their known counts, the Chrome export loads as JSON
with one process per hub, the greenlets' tracks, wait and run slices; and
bad input gets a clear message and exit status, not a traceback."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from checks import check, exit_status  # noqa: E402


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def summary_rows(text, section):
    """The lines of one section of the summary (up to the next blank line)."""
    lines = text.splitlines()
    start = lines.index(section) + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


def test_run(args, hubs, tmp):
    trace = os.path.join(tmp, f"fixture-{hubs}.trace")
    env = dict(os.environ, LD_PRELOAD=args.preload, GREENHUB_TRACE=trace, GREENHUB_HUBS=str(hubs))
    p = run([args.fixture], env=env)
    check(p.returncode == 0 and p.stdout == "echoed 10 requests\n",
          f"[{hubs} hubs] fixture ran: rc={p.returncode} out={p.stdout!r} err={p.stderr!r}")
    s = run([args.greentrace, "summary", trace])
    check(s.returncode == 0 and s.stderr == "", f"[{hubs} hubs] summary exit {s.returncode}: {s.stderr}")
    text = s.stdout
    print(text)

    # strace -c like table: call -> (waits, errors)
    waits = {}
    for line in summary_rows(text, "Green waits by call")[2:]:
        f = line.split()
        if f and not f[0].startswith(("-", "(")) and f[-1] != "total":
            waits[f[-1]] = int(f[4])
    check(waits.get("sleep") == 10, f"[{hubs} hubs] 10 sleep waits, got {waits.get('sleep')}")
    # The echoer waits in each of its 10 recv calls (main sleeps first);
    # main may or may not wait for each reply.
    check(10 <= waits.get("recv", 0) <= 20, f"[{hubs} hubs] 10..20 recv waits, got {waits.get('recv')}")

    top = summary_rows(text, "Top waiting greenlets")
    check(any("(echoer)" in line and line.rstrip().endswith("recv") for line in top),
          f"[{hubs} hubs] the echoer is among the top waiting greenlets, mostly in recv")
    check(any("(main)" in line and "sleep" in line for line in top),
          f"[{hubs} hubs] main is among the top waiting greenlets, mostly in sleep")

    green = {}
    for line in summary_rows(text, "What went green")[1:]:
        m = re.match(r"\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+?)(?::\s*(.*))?$", line)
        if m:
            green[m.group(4)] = (int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(5) or "")
    check(green.get("recvfrom", (0, 0))[1] == 20, f"[{hubs} hubs] 20 green recv, got {green.get('recvfrom')}")
    check(green.get("sendto", (0, 0))[1] == 20, f"[{hubs} hubs] 20 green send, got {green.get('sendto')}")
    r = green.get("read", (0, 0, 0, ""))
    check(r[2] >= 3 and "not pollable (file, tty, device) 3" in r[3],
          f"[{hubs} hubs] 3 reads of a regular file passed through, got {r}")

    # Chrome export.
    out = os.path.join(tmp, f"fixture-{hubs}.json")
    e = run([args.greentrace, "export", "--format", "chrome", trace, "-o", out])
    check(e.returncode == 0, f"[{hubs} hubs] export exit {e.returncode}: {e.stderr}")
    with open(out) as f:
        doc = json.load(f)
    ev = doc["traceEvents"]
    procs = {x["pid"]: x["args"]["name"] for x in ev if x["ph"] == "M" and x["name"] == "process_name"}
    check("hub 0" in procs.values(), f"[{hubs} hubs] a process track for hub 0: {procs}")
    threads = {(x["pid"], x["tid"]): x["args"]["name"] for x in ev
               if x["ph"] == "M" and x["name"] == "thread_name"}
    echoer = [k for k, v in threads.items() if "(echoer)" in v]
    check(len(echoer) == 1, f"[{hubs} hubs] one track for the echoer: {threads}")
    check(any(v.endswith("(main)") for v in threads.values()), f"[{hubs} hubs] a track for main")
    if echoer:
        pid, tid = echoer[0]
        recv_waits = [x for x in ev if x["ph"] == "X" and x["cat"] == "wait" and x["tid"] == tid
                      and x["pid"] == pid and x["name"].startswith("recv")]
        check(len(recv_waits) == 10, f"[{hubs} hubs] 10 recv wait slices on the echoer, got {len(recv_waits)}")
        fds = {x["args"]["fd"] for x in recv_waits}
        check(len(fds) == 1 and min(fds) >= 0, f"[{hubs} hubs] the echoer's recv waits name its fd: {fds}")
        sleeps = [x for x in ev if x["ph"] == "X" and x["cat"] == "wait" and x["name"] == "sleep"]
        check(len(sleeps) == 10 and all(x["args"]["fd"] == -1 and x["args"]["woke"] == "timed out"
                                        for x in sleeps), f"[{hubs} hubs] 10 sleeps, no fd, timed out")
        check(all(x["tid"] != tid for x in sleeps), f"[{hubs} hubs] the sleeps are main's, not the echoer's")
        runs = [x for x in ev if x["ph"] == "X" and x["cat"] == "run" and x["tid"] == tid]
        check(len(runs) >= 10, f"[{hubs} hubs] the echoer's runs between waits, got {len(runs)}")
    # The runs on each hub's own track never overlap (one OS thread).
    for pid in procs:
        runs = sorted((x["ts"], x["ts"] + x["dur"]) for x in ev
                      if x["ph"] == "X" and x["cat"] == "run" and x["pid"] == pid and x["tid"] == 0)
        check(runs, f"[{hubs} hubs] hub track {pid} has runs")
        overlaps = [(a, b) for a, b in zip(runs, runs[1:]) if b[0] < a[1] - 1e-3]
        check(not overlaps, f"[{hubs} hubs] runs on hub track {pid} overlap: {overlaps[:3]}")
    for x in ev:
        if x["ph"] == "X":
            check(x["dur"] >= 0 and x["ts"] >= 0, f"bad slice {x}")
            break


def test_stall(args, tmp):
    """The blocking monitor's report of a CPU-bound green thread lands in the trace."""
    trace = os.path.join(tmp, "stall.trace")
    env = dict(os.environ, LD_PRELOAD=args.preload, GREENHUB_TRACE=trace, GREENHUB_HUBS="1",
               GREENHUB_MAX_BLOCKING_MS="100", STALL_MS="300")
    p = run([args.stall_fixture, "cpu-loop", "thread"], env=env)
    check(p.returncode == 0, f"stall fixture rc={p.returncode} err={p.stderr!r}")
    s = run([args.greentrace, "summary", trace])
    stalls = summary_rows(s.stdout, "Stalls")
    print("\n".join(stalls))
    m = re.match(r"  hub 0 stalled ([\d.]+) ms at \+[\d.]+ s by greenlet \d+ \(blocker\), "
                 r"outside any interposed call$", stalls[0] if stalls else "")
    check(m is not None and float(m.group(1)) >= 100, f"a stall of >= 100 ms by the blocker: {stalls[:1]}")
    check(any("block_in_cpu_loop" in line for line in stalls), "the stall's backtrace names block_in_cpu_loop")
    e = run([args.greentrace, "export", "--format", "chrome", trace])
    doc = json.loads(e.stdout)
    slices = [x for x in doc["traceEvents"] if x.get("cat") == "stall"]
    check(len(slices) >= 1 and slices[0]["args"]["name"] == "blocker" and slices[0]["dur"] >= 100000
          and "block_in_cpu_loop" in slices[0]["args"]["backtrace"], f"a stall slice: {slices[:1]}")
    names = {(x["pid"], x["tid"]): x["args"]["name"] for x in doc["traceEvents"]
             if x["ph"] == "M" and x["name"] == "thread_name"}
    check(slices and names.get((slices[0]["pid"], slices[0]["tid"])) == "stalls", "the stall is on a stalls track")


def test_bad_input(args, tmp):
    cases = {
        "missing": os.path.join(tmp, "does-not-exist"),
        "empty": os.path.join(tmp, "empty"),
        "garbage": os.path.join(tmp, "garbage"),
    }
    open(cases["empty"], "wb").close()
    with open(cases["garbage"], "wb") as f:
        f.write(os.urandom(1000))
    for what, path in cases.items():
        for cmd in (["summary", path], ["export", "--format", "chrome", path]):
            p = run([args.greentrace] + cmd)
            check(p.returncode == 1 and p.stderr.startswith("greentrace: ") and "Traceback" not in p.stderr,
                  f"{what} {cmd[0]}: rc={p.returncode} err={p.stderr!r}")
    # A trace cut in the middle of a record is read up to its last whole record.
    good = os.path.join(tmp, "fixture-1.trace")
    cut = os.path.join(tmp, "cut.trace")
    with open(good, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[: 64 + 48 * 20 + 17])
    p = run([args.greentrace, "summary", cut])
    check(p.returncode == 0 and "file truncated" in p.stdout, f"cut trace: rc={p.returncode} {p.stderr!r}")
    for cmd in ([], ["bogus"], ["export", "--format", "svg", good], ["summary"]):
        p = run([args.greentrace] + cmd)
        check(p.returncode == 2 and "usage" in p.stderr, f"usage error {cmd}: rc={p.returncode}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preload", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--greentrace", required=True)
    ap.add_argument("--stall-fixture", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for hubs in (1, 2):
            test_run(args, hubs, tmp)
        test_stall(args, tmp)
        test_bad_input(args, tmp)
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
