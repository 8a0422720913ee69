#!/usr/bin/env python3
"""Runs examples/pool_imap_unordered and checks the seed's point: four runs
of Pool(10).imap_unordered(echo, 0..9) yield the same result every time.

usage: check_pool_imap_unordered.py BINARY
"""
import re
import subprocess
import sys


def fail(message, output=None):
    print("FAIL: " + message)
    if output is not None:
        print("--- program output ---")
        print(output)
    sys.exit(1)


def main(binary):
    proc = subprocess.run([binary], capture_output=True, timeout=20)
    out = proc.stdout.decode("utf-8")
    if proc.stderr:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
    if proc.returncode != 0:
        fail("exit status %d, expected 0" % proc.returncode, out)
    lines = out.splitlines()

    runs, sets = {}, {}
    for line in lines:
        m = re.fullmatch(r"run([1-4]): \[([0-9, ]*)\]", line)
        if m:
            runs[int(m.group(1))] = [int(x) for x in m.group(2).split(", ") if x]
            continue
        m = re.fullmatch(r"run([1-4]) as a set: \{([0-9, ]*)\}", line)
        if m:
            sets[int(m.group(1))] = [int(x) for x in m.group(2).split(", ") if x]
    if sorted(runs) != [1, 2, 3, 4] or sorted(sets) != [1, 2, 3, 4]:
        fail("expected the results of four runs, each also as a set", out)
    if len(lines) != 9:
        fail("unexpected lines in the output", out)

    # Checked here from the printed results, not taken from the program's word.
    for n in range(1, 5):
        if sorted(runs[n]) != list(range(10)):
            fail("run%d did not yield each of 0..9 exactly once" % n, out)
        if sets[n] != sorted(set(runs[n])):
            fail("run%d's set does not match its results" % n, out)
    if not sets[1] == sets[2] == sets[3] == sets[4]:
        fail("the four runs did not yield the same result", out)
    if lines[-1] != "run1 == run2 == run3 == run4: True":
        fail("the program's own comparison does not say True", out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_pool_imap_unordered.py BINARY")
    main(sys.argv[1])
    print("ok: pool_imap_unordered")
