"""The checks of a tool test, shared by the tests under tests/tools/ and
tests/trace/.

check() prints `ok: ...` or `FAIL: ...` as the test goes; exit_status()
lists the failures again (with their details) on stderr and returns the
process's exit status: 1 if any check failed, else 0.
"""

import sys

failures = []


def check(condition, what, details=''):
    if condition:
        print(f'ok: {what}', flush=True)
    else:
        failures.append(f'{what}\n{details}' if details else what)
        print(f'FAIL: {what}', flush=True)


def exit_status():
    if not failures:
        return 0
    print(f'\n{len(failures)} failure(s):', file=sys.stderr)
    for f in failures:
        print('---\n' + f, file=sys.stderr)
    return 1
