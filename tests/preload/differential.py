#!/usr/bin/python3
"""Runs a fixture natively and under the preload and compares what it did.

    differential.py --preload LIB [--hubs N ...] [--stdin TEXT] [--env K=V ...]
                    [--timeout S] -- PROGRAM [ARGS...]

The fixture's stdout, stderr and exit status (or terminating signal) must be
equal natively and under LD_PRELOAD=LIB, for each GREENHUB_HUBS value given
(default: 1 and 2): a bare LD_PRELOAD writes nothing of its own (the
blocking monitor is off unless GREENHUB_MAX_BLOCKING_MS is set). Exit 0
when all runs match.
"""
import argparse
import difflib
import os
import subprocess
import sys


def run(cmd, env, stdin, timeout):
    try:
        p = subprocess.run(cmd, env=env, input=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return ('timeout', e.stdout or b'', e.stderr or b'')
    return (p.returncode, p.stdout, p.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preload', required=True)
    ap.add_argument('--hubs', action='append', type=int)
    ap.add_argument('--env', action='append', default=[])
    ap.add_argument('--stdin', default=None)
    ap.add_argument('--timeout', type=float, default=60)
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == '--' else a.cmd
    stdin = a.stdin.encode() if a.stdin is not None else b''
    base = dict(os.environ)
    base.pop('LD_PRELOAD', None)
    for kv in a.env:
        k, v = kv.split('=', 1)
        base[k] = v
    native = run(cmd, base, stdin, a.timeout)
    ok = True
    for hubs in a.hubs or [1, 2]:
        env = dict(base, LD_PRELOAD=os.path.abspath(a.preload), GREENHUB_HUBS=str(hubs))
        green = run(cmd, env, stdin, a.timeout)
        if green != native:
            ok = False
            print(f'MISMATCH with GREENHUB_HUBS={hubs}: native status {native[0]}, '
                  f'green status {green[0]}')
            for stream, name in ((1, 'stdout'), (2, 'stderr')):
                diff = difflib.unified_diff(native[stream].decode(errors='replace').splitlines(),
                                            green[stream].decode(errors='replace').splitlines(),
                                            f'native {name}', f'green {name}', lineterm='')
                print('\n'.join(diff))
        else:
            print(f'GREENHUB_HUBS={hubs}: same output ({len(native[1])} bytes, '
                  f'{len(native[2])} on stderr) and status {native[0]}')
    if native[0] == 'timeout':
        print('the native run timed out: the fixture itself is broken')
        ok = False
    print('--- native stderr:\n' + native[2].decode(errors='replace')[-2000:])
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
