"""The blocking monitor, observed from outside.

Each stall fixture (stall_fixture.c) blocks hub 0 for about 400 ms through
a path no preload can make green, while a ticker thread waits on the same
hub. The monitor must report it exactly once, naming the greenlet, the
interposed call (or none) and a backtrace that holds the function that
blocks. A green sleep, a monitor turned off and a healthy echo server
under load must produce no report. Bad monitor variables stop the program
at start-up with a clear message.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HEADLINE = re.compile(r'greenhub: blocking monitor: hub (\d+) \(OS thread (\d+)\) '
                      r'has not switched for (\d+) ms \(GREENHUB_MAX_BLOCKING_MS=(\d+)\)')

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from checks import check, exit_status  # noqa: E402


def run_fixture(args, mode, *extra, env_extra=None, timeout=60, launcher=()):
    """Runs the stall fixture on one hub with the monitor at 100 ms, under a
    bare LD_PRELOAD, or under `launcher` (greenrun) when given. An env_extra
    value of None removes that variable."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith('GREENHUB_'):
            del env[name]
    env.pop('LD_PRELOAD', None)
    if not launcher:
        env['LD_PRELOAD'] = os.path.abspath(args.preload)
    env['GREENHUB_HUBS'] = '1'
    env['GREENHUB_MAX_BLOCKING_MS'] = '100'
    for name, value in (env_extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run([*launcher, args.fixture, mode, *extra], env=env, capture_output=True,
                          text=True, timeout=timeout)


def check_defaults(args):
    """Off under a bare LD_PRELOAD unless asked (the program's stderr stays
    its own); on at 100 ms under greenrun."""
    r = run_fixture(args, 'cpu-loop', env_extra={'GREENHUB_MAX_BLOCKING_MS': None})
    check(r.returncode == 0 and 'ticks yes' in r.stdout and r.stderr == '',
          'bare LD_PRELOAD, GREENHUB_MAX_BLOCKING_MS unset: no report, stderr untouched',
          r.stderr)
    r = run_fixture(args, 'cpu-loop', env_extra={'GREENHUB_MAX_BLOCKING_MS': None},
                    launcher=(os.path.abspath(args.greenrun),))
    headlines = HEADLINE.findall(r.stderr)
    check(r.returncode == 0 and len(headlines) == 1 and headlines[0][3] == '100',
          'greenrun without --max-blocking: the stall is reported at 100 ms', r.stderr)
    r = run_fixture(args, 'cpu-loop', env_extra={'GREENHUB_MAX_BLOCKING_MS': None},
                    launcher=(os.path.abspath(args.greenrun), '--max-blocking', '0'))
    check(r.returncode == 0 and 'blocking monitor' not in r.stderr,
          'greenrun --max-blocking 0: no report', r.stderr)


def frames_of(report):
    return re.findall(r'^\s+#\d+\s+0x[0-9a-f]+ in (\S+)', report, re.M)


def check_stall(args, mode, function, call, thread=False):
    extra = ('thread',) if thread else ()
    r = run_fixture(args, mode, *extra)
    label = f'{mode}{" in a green thread" if thread else ""}'
    check(r.returncode == 0 and 'ticks yes' in r.stdout,
          f'{label}: the fixture ran to its end (exit {r.returncode})', r.stderr)
    headlines = HEADLINE.findall(r.stderr)
    check(len(headlines) == 1, f'{label}: reported exactly once (got {len(headlines)})', r.stderr)
    if not headlines:
        return
    hub, tid, ms, threshold = headlines[0]
    check(hub == '0' and int(ms) >= 100 and threshold == '100',
          f'{label}: hub 0, at least the threshold (hub {hub}, {ms} ms)', r.stderr)
    if thread:
        who = re.search(r'^  green thread (\d+) "blocker" is (.*)$', r.stderr, re.M)
    else:
        who = re.search(r'^  main thread (\d+) "stall_fixture" is (.*)$', r.stderr, re.M)
    check(who is not None, f'{label}: names the greenlet (id and pthread name)', r.stderr)
    if who:
        expected = f'in {call}()' if call else 'outside any interposed call'
        check(who.group(2) == expected, f'{label}: "{expected}"', r.stderr)
    frames = [f.split('+')[0] for f in frames_of(r.stderr)]
    check(function in frames, f'{label}: {function} is in the backtrace', r.stderr)
    blocker = 'block_in_' + mode.replace('-', '_')
    check(blocker in frames, f'{label}: {blocker} is in the backtrace', r.stderr)
    check(function in frames and blocker in frames and frames.index(function) <= frames.index(blocker),
          f'{label}: {function} is called from {blocker}', r.stderr)
    if thread:
        check('main' not in frames, f'{label}: the backtrace is the green thread\'s, not main\'s',
              r.stderr)


def check_quiet(args, mode, env_extra, what):
    r = run_fixture(args, mode, env_extra=env_extra)
    check(r.returncode == 0 and 'ticks yes' in r.stdout and 'blocking monitor' not in r.stderr,
          what, r.stderr)


def check_uninterruptible_call(args):
    # A stall in a system call that a signal would cut short (nanosleep):
    # reported, without a backtrace, and the call runs to its end.
    r = run_fixture(args, 'raw-nanosleep')
    check(r.returncode == 0 and 'nanosleep 0\n' in r.stdout and 'ticks yes' in r.stdout,
          'raw nanosleep: the stall did not cut the call short', r.stdout + r.stderr)
    check(len(HEADLINE.findall(r.stderr)) == 1 and 'in system call 35' in r.stderr,
          'raw nanosleep: reported once, naming the system call, without a signal', r.stderr)


def check_log_file(args):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, 'monitor.log')
        r = run_fixture(args, 'cpu-loop', env_extra={'GREENHUB_MONITOR_LOG': log})
        text = open(log).read() if os.path.exists(log) else ''
        check(r.returncode == 0 and 'blocking monitor' not in r.stderr
              and len(HEADLINE.findall(text)) == 1 and 'block_in_cpu_loop' in text,
              'GREENHUB_MONITOR_LOG: the report goes to the file, not stderr',
              f'stderr: {r.stderr}\nlog: {text}')


def check_bad_values(args):
    for name, value, expected in [
            ('GREENHUB_MAX_BLOCKING_MS', 'abc', 'GREENHUB_MAX_BLOCKING_MS=abc is not valid'),
            ('GREENHUB_MAX_BLOCKING_MS', '-5', 'GREENHUB_MAX_BLOCKING_MS=-5 is not valid'),
            ('GREENHUB_MONITOR_LOG', '/nonexistent-dir/x.log',
             'GREENHUB_MONITOR_LOG=/nonexistent-dir/x.log cannot be opened: No such file'),
    ]:
        r = run_fixture(args, 'sleep', env_extra={name: value})
        check(r.returncode == 2 and expected in r.stderr and r.stdout == '',
              f'{name}={value}: exit 2 before main with "{expected}"',
              f'exit {r.returncode}\n{r.stderr}')


def check_invisible_thread(args):
    """The monitor thread is not one of the program's: it blocks every signal
    and is not a green thread (the fixture's pthread count is unchanged)."""
    env = dict(os.environ)
    env['LD_PRELOAD'] = os.path.abspath(args.preload)
    env['GREENHUB_HUBS'] = '1'
    env['GREENHUB_MAX_BLOCKING_MS'] = '100'
    env['STALL_MS'] = '3000'
    p = subprocess.Popen([args.fixture, 'sleep'], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        monitor = None
        while time.time() < deadline and monitor is None:
            for tid in os.listdir(f'/proc/{p.pid}/task'):
                try:
                    comm = open(f'/proc/{p.pid}/task/{tid}/comm').read().strip()
                except OSError:
                    continue
                if comm == 'greenhub-mon':
                    monitor = tid
            time.sleep(0.05)
        check(monitor is not None, 'the monitor is an OS thread named greenhub-mon')
        if monitor:
            status = open(f'/proc/{p.pid}/task/{monitor}/status').read()
            blocked = re.search(r'^SigBlk:\s*([0-9a-f]+)', status, re.M).group(1)
            mask = int(blocked, 16)
            # Every signal but those nothing can block (SIGKILL, SIGSTOP) and
            # glibc's internal ones (32, 33), which it never lets be blocked.
            unblocked = [sig for sig in range(1, 65)
                         if not mask & (1 << (sig - 1)) and sig not in (9, 19, 32, 33)]
            check(unblocked == [], 'the monitor thread blocks every signal',
                  f'not blocked: {unblocked}')
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()


def check_healthy_server(args, hubs):
    """The legacy echo server under load for a few seconds: never reported."""
    env = dict(os.environ)
    env['LD_PRELOAD'] = os.path.abspath(args.preload)
    env['GREENHUB_HUBS'] = str(hubs)
    env['GREENHUB_MAX_BLOCKING_MS'] = '100'
    with tempfile.TemporaryFile() as err:
        server = subprocess.Popen([args.server, '0'], env=env, stdout=subprocess.PIPE,
                                  stderr=err, text=True)
        try:
            line = server.stdout.readline()
            m = re.search(r'listening on 127\.0\.0\.1:(\d+)', line)
            check(m is not None, f'echo server ({hubs} hubs) started', line)
            if not m:
                return
            load = subprocess.run([args.loadgen, '--port', m.group(1), '--connections', '200',
                                   '--duration', '4', '--warmup', '0.5'],
                                  capture_output=True, text=True, timeout=120)
            check(load.returncode == 0, f'loadgen against the echo server ({hubs} hubs)',
                  load.stdout + load.stderr)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        err.seek(0)
        text = err.read().decode(errors='replace')
        check('blocking monitor' not in text,
              f'a healthy busy server ({hubs} hubs, 200 connections, 4 s) is never reported',
              text[-3000:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--preload', required=True)
    parser.add_argument('--fixture', required=True)
    parser.add_argument('--server', required=True)
    parser.add_argument('--loadgen', required=True)
    parser.add_argument('--greenrun', required=True)
    args = parser.parse_args()

    check_stall(args, 'stdio-fgets', 'fgets', None)
    check_stall(args, 'syscall-read', 'syscall', None)
    check_stall(args, 'cpu-loop', 'block_in_cpu_loop', None)
    check_stall(args, 'tty-read', 'read', 'read')
    check_stall(args, 'stdio-fgets', 'fgets', None, thread=True)
    check_defaults(args)
    check_quiet(args, 'sleep', {}, 'a green sleep is never reported')
    check_quiet(args, 'cpu-loop', {'GREENHUB_MAX_BLOCKING_MS': '0'},
                'GREENHUB_MAX_BLOCKING_MS=0 turns the monitor off')
    check_quiet(args, 'cpu-loop', {'GREENHUB_MAX_BLOCKING_MS': '5000'},
                'a stall under the threshold is not reported')
    check_uninterruptible_call(args)
    check_log_file(args)
    check_bad_values(args)
    check_invisible_thread(args)
    check_healthy_server(args, 1)
    check_healthy_server(args, 2)

    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
