"""greenrun, observed from outside: every option's effect on the program it
runs, the exit statuses a shell gives (127, 126, 2) and the program's own
(exit status, death by signal, same process), bad GREENHUB_* values, and
the layouts it finds the preload in (build tree, next to itself, a meson
install into a DESTDIR).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from checks import check, exit_status  # noqa: E402


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('GREENHUB_') and k != 'LD_PRELOAD'}
    env.update(extra)
    return env


def run(cmd, env=None, timeout=60, **kw):
    return subprocess.run(cmd, env=env if env is not None else clean_env(), capture_output=True,
                          text=True, timeout=timeout, **kw)


def show(r):
    return f'exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}'


def thread_names(greenrun, *options):
    """The OS thread names of a shell run under greenrun."""
    r = run([greenrun, *options, '--', 'sh', '-c', 'cat /proc/$$/task/*/comm'])
    return r, sorted(r.stdout.split())


def test_usage(g):
    r = run([g, '--version'])
    check(r.returncode == 0 and re.fullmatch(r'greenrun \(greenhub\) \d+\.\d+\.\d+\n', r.stdout),
          '--version', show(r))
    r = run([g, '--help'])
    options = ['--hubs', '--stack-size', '--resolver', '--no-green-threads', '--trace', '--stats',
               '--max-blocking', '--control', '--monitor-log', '--version', '--help']
    variables = ['GREENHUB_HUBS', 'GREENHUB_STACK_SIZE', 'GREENHUB_RESOLVER',
                 'GREENHUB_GREEN_THREADS=0', 'GREENHUB_TRACE', 'GREENHUB_STATS=1',
                 'GREENHUB_MAX_BLOCKING_MS', 'GREENHUB_CONTROL', 'GREENHUB_MONITOR_LOG']
    check(r.returncode == 0 and all(o in r.stdout for o in options)
          and all(v in r.stdout for v in variables),
          '--help lists every option and the variable it sets', show(r))
    r = run([g, '--bogus', 'true'])
    check(r.returncode == 2 and "unrecognized option '--bogus'" in r.stderr
          and 'usage: greenrun' in r.stderr, 'a bad option exits 2 with the usage', show(r))
    r = run([g, '--hubs'])
    check(r.returncode == 2 and 'requires an argument' in r.stderr and 'usage: greenrun' in r.stderr,
          'an option without its value exits 2 with the usage', show(r))
    r = run([g, '--hubs', '', 'true'])
    check(r.returncode == 2 and 'empty' in r.stderr and 'usage: greenrun' in r.stderr,
          'an empty value exits 2 with the usage', show(r))
    r = run([g])
    check(r.returncode == 2 and 'no program to run' in r.stderr and 'usage: greenrun' in r.stderr,
          'no program exits 2 with the usage', show(r))
    r = run([g, '--', 'sh', '-c', 'echo "$0" "$1"', 'x', '--hubs'])
    check(r.returncode == 0 and r.stdout == 'x --hubs\n',
          "the program's own options are left to it (options end at its name)", show(r))


def test_exit_statuses(g):
    r = run([g, 'greenrun-no-such-program', 'arg'])
    check(r.returncode == 127 and 'greenrun: greenrun-no-such-program: command not found' in r.stderr,
          'a program not on PATH exits 127 with a message', show(r))
    r = run([g, '/nonexistent/program'])
    check(r.returncode == 127 and '/nonexistent/program: No such file or directory' in r.stderr,
          'a missing path exits 127 with a message', show(r))
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, 'not-executable')
        with open(script, 'w') as f:
            f.write('#!/bin/sh\necho hi\n')
        os.chmod(script, 0o644)
        r = run([g, script])
        check(r.returncode == 126 and 'Permission denied' in r.stderr,
              'a file that cannot be executed exits 126', show(r))
    r = run([g, 'sh', '-c', 'exit 7'])
    check(r.returncode == 7, "the program's exit status passes through", show(r))
    r = run([g, 'sh', '-c', 'kill -TERM $$; sleep 5'])
    check(r.returncode == -signal.SIGTERM, 'death by a signal passes through (SIGTERM)', show(r))
    r = run([g, 'sh', '-c', 'kill -SEGV $$; sleep 5'])
    check(r.returncode == -signal.SIGSEGV, 'death by a signal passes through (SIGSEGV)', show(r))
    # greenrun execs the program: same process, so signals sent to it reach the program.
    p = subprocess.Popen([g, 'sh', '-c', 'echo $$; exec sleep 30'], env=clean_env(),
                         stdout=subprocess.PIPE, text=True)
    pid = int(p.stdout.readline())
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=30)
    check(pid == p.pid and rc == -signal.SIGINT,
          'the program is greenrun\'s own process: a signal sent to it reaches the program',
          f'greenrun pid {p.pid}, program pid {pid}, exit {rc}')


def test_options(g, fixture):
    r, names = thread_names(g, '--hubs', '3')
    check(r.returncode == 0 and names.count('greenhub-hub1') == 1 and names.count('greenhub-hub2') == 1
          and 'greenhub-hub3' not in names, '--hubs 3: two hub threads besides main', show(r))
    r, names = thread_names(g, '--hubs', '1')
    check(r.returncode == 0 and not any(n.startswith('greenhub-hub') for n in names),
          '--hubs 1: no hub thread besides main', show(r))
    r, names = thread_names(g, '--hubs', '3', '--no-green-threads')
    check(r.returncode == 0 and not any(n.startswith('greenhub-hub') for n in names),
          '--no-green-threads: pthreads stay OS threads (no hub threads started)', show(r))
    r, names = thread_names(g, '--max-blocking', '0')
    check(r.returncode == 0 and 'greenhub-mon' not in names,
          '--max-blocking 0: no monitor thread', show(r))
    r, names = thread_names(g)
    check(r.returncode == 0 and 'greenhub-mon' in names, 'the monitor runs by default', show(r))

    env_fixture = clean_env(STALL_MS='400')
    r = run([g, '--hubs', '1', '--max-blocking', '100', fixture, 'cpu-loop'], env=env_fixture)
    check(r.returncode == 0 and r.stderr.count('has not switched for') == 1
          and 'GREENHUB_MAX_BLOCKING_MS=100' in r.stderr,
          '--max-blocking 100: a 400 ms stall is reported', show(r))
    r = run([g, '--hubs', '1', '--max-blocking', '2000', fixture, 'cpu-loop'], env=env_fixture)
    check(r.returncode == 0 and 'has not switched' not in r.stderr,
          '--max-blocking 2000: a 400 ms stall is not', show(r))
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, 'stalls.log')
        r = run([g, '--hubs', '1', '--monitor-log', log, fixture, 'cpu-loop'], env=env_fixture)
        text = open(log).read() if os.path.exists(log) else ''
        check(r.returncode == 0 and 'has not switched' not in r.stderr
              and 'has not switched' in text, '--monitor-log FILE: the report is in FILE',
              show(r) + '\nlog: ' + text)

    r = run([g, '--hubs', '1', '--stats', fixture, 'sleep'], env=clean_env(STALL_MS='50'))
    m = re.search(r'greenhub: stats \(pid \d+\): 1 hub, (\d+) switches, (\d+) greenlets spawned, '
                  r'(\d+) calls went green, (\d+) passed through to libc, 0 stalls reported', r.stderr)
    check(r.returncode == 0 and m is not None and int(m.group(1)) > 0 and int(m.group(2)) >= 1
          and re.search(r'^  hub 0: \d+ switches', r.stderr, re.M),
          '--stats: the summary at exit (switches, greenlets, green calls, stalls)', show(r))
    r = run([g, '--hubs', '1', '--stats', fixture, 'cpu-loop'], env=env_fixture)
    check(r.returncode == 0 and ', 1 stall reported' in r.stderr,
          '--stats counts the stalls the monitor reported', show(r))
    r = run([g, fixture, 'sleep'], env=clean_env(STALL_MS='10'))
    check(r.returncode == 0 and 'greenhub: stats' not in r.stderr, 'no summary without --stats',
          show(r))
    r = run([g, '--stats', 'cat', '/dev/null'])
    check(r.returncode == 0 and 'greenhub: stats' in r.stderr,
          '--stats: printed even by a program that closes stderr at exit (GNU cat)', show(r))

    for size in ['64K', '1M']:
        r = run([g, '--hubs', '1', '--stack-size', size, fixture, 'sleep', 'thread'],
                env=clean_env(STALL_MS='10'))
        check(r.returncode == 0 and 'ticks yes' in r.stdout, f'--stack-size {size}: threads run',
              show(r))
    for kind in ['ares', 'thread', 'block']:
        r = run([g, '--resolver', kind, 'getent', 'hosts', 'localhost'])
        check(r.returncode == 0 and ('127.0.0.1' in r.stdout or '::1' in r.stdout),
              f'--resolver {kind}: a lookup works', show(r))

    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, 'run.trace')
        r = run([g, '--trace', trace, fixture, 'sleep'], env=clean_env(STALL_MS='20'))
        check(r.returncode == 0 and os.path.exists(trace) and os.path.getsize(trace) > 0,
              '--trace FILE: the trace file is written', show(r))
        sock = os.path.join(d, 'control.sock')
        r = run([g, '--control', sock, 'sh', '-c', f'test -S {sock} && echo socket'])
        check(r.returncode == 0 and r.stdout == 'socket\n',
              '--control PATH: the control socket exists while the program runs', show(r))

    # Every option maps to its variable (the preload works without greenrun).
    r = run([g, '--hubs', '2', '--stack-size', '128K', '--resolver', 'thread', '--no-green-threads',
             '--stats', '--max-blocking', '250', '--monitor-log', '/dev/null',
             'sh', '-c', 'env | grep ^GREENHUB_ | sort'])
    expected = ['GREENHUB_GREEN_THREADS=0', 'GREENHUB_HUBS=2', 'GREENHUB_MAX_BLOCKING_MS=250',
                'GREENHUB_MONITOR_LOG=/dev/null', 'GREENHUB_RESOLVER=thread',
                'GREENHUB_STACK_SIZE=128K', 'GREENHUB_STATS=1']
    check(r.returncode == 0 and r.stdout.split() == expected,
          'each option sets its GREENHUB_* variable', show(r))
    r = run([g, 'sh', '-c', 'echo $LD_PRELOAD'], env=clean_env(LD_PRELOAD='libm.so.6'))
    entries = r.stdout.strip().split(':')
    check(r.returncode == 0 and len(entries) == 2
          and entries[0].endswith('/libgreenhub_preload.so') and entries[1] == 'libm.so.6',
          'the preload goes first in LD_PRELOAD, the program\'s entries are kept', show(r))


def test_bad_values(g):
    """Bad values are reported at start-up, before main, with exit 2: the same
    message through greenrun and through the bare variable."""
    cases = [
        (['--hubs', '0'], 'GREENHUB_HUBS', '0', 'GREENHUB_HUBS=0 is not valid'),
        (['--hubs', 'two'], 'GREENHUB_HUBS', 'two', 'GREENHUB_HUBS=two is not valid'),
        (['--stack-size', '1K'], 'GREENHUB_STACK_SIZE', '1K', 'GREENHUB_STACK_SIZE=1K is not valid'),
        (['--resolver', 'dns'], 'GREENHUB_RESOLVER', 'dns', 'GREENHUB_RESOLVER=dns is not valid'),
        (['--max-blocking', '1s'], 'GREENHUB_MAX_BLOCKING_MS', '1s',
         'GREENHUB_MAX_BLOCKING_MS=1s is not valid'),
        (None, 'GREENHUB_GREEN_THREADS', 'no', 'GREENHUB_GREEN_THREADS=no is not valid'),
        (None, 'GREENHUB_STATS', 'yes', 'GREENHUB_STATS=yes is not valid'),
        (None, 'GREENHUB_THREADPOOL_SIZE', '0', 'GREENHUB_THREADPOOL_SIZE=0 is not'),
    ]
    for options, name, value, message in cases:
        if options is not None:
            r = run([g, *options, 'sh', '-c', 'echo ran'])
            check(r.returncode == 2 and message in r.stderr and 'ran' not in r.stdout,
                  f'greenrun {" ".join(options)}: exit 2 at start-up with "{message}"', show(r))
        r = run([g, 'sh', '-c', 'echo ran'], env=clean_env(**{name: value}))
        check(r.returncode == 2 and message in r.stderr and 'ran' not in r.stdout,
              f'{name}={value}: exit 2 at start-up with "{message}"', show(r))


def test_layouts(g, preload, build_root):
    r = run([g, 'true'])
    check(r.returncode == 0, 'build tree: greenrun finds build/preload/', show(r))
    with tempfile.TemporaryDirectory() as d:
        alone = os.path.join(d, 'greenrun')
        shutil.copy2(g, alone)
        r = run([alone, 'true'])
        check(r.returncode == 1 and 'cannot find libgreenhub_preload.so' in r.stderr,
              'without a preload near it: exit 1 and where it looked', show(r))
        shutil.copy2(preload, os.path.join(d, 'libgreenhub_preload.so'))
        r = run([alone, 'sh', '-c', 'echo $LD_PRELOAD'])
        check(r.returncode == 0 and r.stdout.strip() == os.path.join(os.path.realpath(d),
                                                                     'libgreenhub_preload.so'),
              'the preload next to greenrun is used', show(r))
        link = os.path.join(d, 'link-to-greenrun')
        os.symlink(os.path.abspath(g), link)
        r = run([link, 'sh', '-c', 'echo $LD_PRELOAD'])
        check(r.returncode == 0 and r.stdout.strip() == os.path.realpath(preload),
              'through a symlink, greenrun finds the preload of its real location', show(r))

    with tempfile.TemporaryDirectory(prefix='greenrun-install-') as destdir:
        r = run(['meson', 'install', '--no-rebuild', '--quiet', '-C', build_root,
                 '--destdir', destdir], env=dict(os.environ), timeout=300)
        check(r.returncode == 0, 'meson install into a DESTDIR', show(r))
        installed = [os.path.join(root, f) for root, _, files in os.walk(destdir) for f in files]
        runs = [p for p in installed if p.endswith('/bin/greenrun')]
        libs = [p for p in installed if p.endswith('/libgreenhub_preload.so')]
        check(len(runs) == 1 and len(libs) == 1, 'installed: bin/greenrun and the preload in libdir',
              '\n'.join(installed))
        if runs and libs:
            r = run([runs[0], '--stats', 'env'])
            check(r.returncode == 0
                  and f'LD_PRELOAD={os.path.realpath(libs[0])}\n' in r.stdout
                  and 'greenhub: stats' in r.stderr,
                  'the installed greenrun runs a program with the installed preload', show(r))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--greenrun', required=True)
    parser.add_argument('--preload', required=True)
    parser.add_argument('--fixture', required=True)
    parser.add_argument('--build-root', required=True)
    args = parser.parse_args()
    g = os.path.abspath(args.greenrun)

    test_usage(g)
    test_exit_statuses(g)
    test_options(g, os.path.abspath(args.fixture))
    test_bad_values(g)
    test_layouts(g, os.path.abspath(args.preload), args.build_root)

    return exit_status()


if __name__ == '__main__':
    sys.exit(main())
