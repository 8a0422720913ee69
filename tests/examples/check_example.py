#!/usr/bin/env python3
"""Runs one of the seed examples (examples/) and checks that its output shows
the point the example makes.

usage: check_example.py NAME BINARY
"""
import os
import select
import signal
import subprocess
import sys
import time


def fail(message, output=None):
    print("FAIL: " + message)
    if output is not None:
        print("--- program output ---")
        print(output)
    sys.exit(1)


def run(binary, timeout=20):
    start = time.monotonic()
    proc = subprocess.run([binary], capture_output=True, timeout=timeout)
    elapsed = time.monotonic() - start
    out = proc.stdout.decode("utf-8")
    if proc.stderr:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
    if proc.returncode != 0:
        fail("exit status %d, expected 0" % proc.returncode, out)
    return out.splitlines(), out, elapsed


def check_sync_vs_async(binary):
    lines, out, _ = run(binary)
    if lines[:1] != ["Synchronous:"] or "Asynchronous:" not in lines:
        fail("missing the Synchronous:/Asynchronous: sections", out)
    split = lines.index("Asynchronous:")
    sync, rest = lines[1:split], lines[split + 1:]

    # Synchronous: each task runs to its end before the next one starts.
    expected = []
    for i in range(10):
        expected += ["Task %d started" % i, "Task %d done" % i]
    if sync != expected:
        fail("synchronous tasks did not run one after the other in order", out)

    # Asynchronous: every task has started before the first one finishes,
    # and the closing line comes after all of them.
    if not rest or rest[-1] != "结束":
        fail("the last line is not 结束", out)
    async_lines = rest[:-1]
    starts = [l for l in async_lines if l.endswith(" started")]
    dones = [l for l in async_lines if l.endswith(" done")]
    if sorted(starts) != sorted("Task %d started" % i for i in range(10)):
        fail("not every asynchronous task started exactly once", out)
    if sorted(dones) != sorted("Task %d done" % i for i in range(10)):
        fail("not every asynchronous task finished exactly once", out)
    if len(async_lines) != 20:
        fail("unexpected lines in the asynchronous section", out)
    last_start = max(async_lines.index(l) for l in starts)
    first_done = min(async_lines.index(l) for l in dones)
    if last_start > first_done:
        fail("a task finished before every task had started", out)


def check_creating_greenlets(binary):
    lines, out, elapsed = run(binary)
    # foo("Hello", 1) sleeps less than foo("I live!", 2); x + 1 on 2 is 3.
    if lines != ["Hello", "I live!", "thread3 value: 3"]:
        fail("unexpected output", out)
    if elapsed > 5:
        fail("took %.1f s for sleeps of 0.1 and 0.2 s" % elapsed, out)


def check_greenlet_states(binary):
    lines, out, _ = run(binary)
    expected = [
        "winner.started: true",
        "loser.started: true",
        "winner.value: You win!",
        "loser.value: none",
        "winner.ready: true",
        "loser.ready: true",
        "winner.successful: true",
        "loser.successful: false",
        "winner.exception: none",
        "loser.exception: You fail at failing.",
    ]
    if lines != expected:
        fail("greenlet states differ from gevent's", out)


def check_timeout(binary):
    lines, out, elapsed = run(binary)
    if lines != ["Could not complete"]:
        fail("the 10 s wait was not cut short by the Timeout", out)
    if elapsed > 5:
        fail("took %.1f s: the Timeout did not end the wait early" % elapsed, out)


def read_line(proc, timeout):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    return proc.stdout.readline().decode("utf-8")


def check_shutdown(binary):
    # Without arguments the example signals itself (so that running every
    # bundled example terminates).
    lines, out, elapsed = run(binary)
    if lines[-2:] != ["sending SIGQUIT to myself", "run_forever was shut down; exiting"]:
        fail("the self-signalled run did not end through shutdown", out)
    if elapsed > 5:
        fail("took %.1f s to exit after its own SIGQUIT at 0.5 s" % elapsed, out)

    # --wait: only a SIGQUIT from outside ends it.
    proc = subprocess.Popen([binary, "--wait"], stdout=subprocess.PIPE)
    try:
        first = read_line(proc, 10)
        if not first or not first.startswith("running as pid %d" % proc.pid):
            fail("the program did not report that it is running: %r" % first)
        time.sleep(0.2)  # parked in join() by now (the signal works either way)
        if proc.poll() is not None:
            fail("the program exited before SIGQUIT (status %d)" % proc.returncode)
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGQUIT)
        try:
            status = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            fail("still running 5 s after SIGQUIT")
        elapsed = time.monotonic() - sent
        rest = proc.stdout.read().decode("utf-8")
        if status != 0:
            fail("exit status %d after SIGQUIT, expected 0" % status, first + rest)
        if elapsed > 2:
            fail("took %.1f s to exit after SIGQUIT" % elapsed, first + rest)
        if "run_forever was shut down" not in rest:
            fail("the forever greenlet was not ended by shutdown", first + rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


CHECKS = {
    "sync_vs_async": check_sync_vs_async,
    "creating_greenlets": check_creating_greenlets,
    "greenlet_states": check_greenlet_states,
    "timeout": check_timeout,
    "shutdown": check_shutdown,
}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CHECKS:
        sys.exit("usage: check_example.py {%s} BINARY" % ",".join(CHECKS))
    CHECKS[sys.argv[1]](sys.argv[2])
    print("ok: " + sys.argv[1])
