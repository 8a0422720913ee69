"""DNS workload: 1,000 concurrent getaddrinfo lookups against a server that
delays every answer by 200 ms, resolved by greenhub's asynchronous (c-ares)
resolver from greenlets, by its thread resolver, and by glibc from 1,000
native threads.

The DNS benchmark belongs to the dns engineer (tests/bench/dns/). HOOK: when
their runner tests/bench/run-dns exists, the suite calls it (RUNS=<runs>)
and puts its output in the report as it is. Until then the suite runs
their program tests/bench/dns/bench_dns_lookups itself (it starts the
dns tests' delaying server in a private mount namespace, so it needs root),
repeated, and tabulates its keys (dns.*_wall_ms, dns.*_cpu_ms).
"""
import os
import subprocess

from .echo import parse_key_values
from .setup import BENCH, ROOT

RUNNER = os.path.join(BENCH, 'run-dns')
SERVER_SCRIPT = os.path.join(ROOT, 'tests', 'dns', 'dns_test_server.py')
RESOLVERS = ('ares', 'thread', 'native')


def run(paths, runs, smoke, build_dir, log):
    """Returns ('runner', text) when the dns runner exists, else
    ('program', {(run, resolver): figures}, problems)."""
    if os.access(RUNNER, os.X_OK) and not smoke:
        env = dict(os.environ, RUNS=str(runs), GREENHUB_BENCH_BUILD=build_dir)
        p = subprocess.run([RUNNER], env=env, capture_output=True, text=True, timeout=900)
        log(f'dns: {RUNNER} exited {p.returncode}')
        return ('runner', p.stdout + (f'\n(run-dns exited {p.returncode}: {p.stderr.strip()[-500:]})'
                                      if p.returncode != 0 else ''))
    results, problems = {}, []
    for r in range(runs):
        cmd = [paths['dns_lookups'], SERVER_SCRIPT] + (['--smoke'] if smoke else [])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            problems.append(f'bench_dns_lookups exited {p.returncode}: {(p.stdout + p.stderr).strip()[-300:]}')
            log(f'dns run {r + 1}: FAILED {problems[-1]}')
            continue
        figures = parse_key_values(p.stdout)
        for resolver in RESOLVERS:
            results[(r, 'lookups', resolver)] = {
                'wall_ms': figures.get(f'dns.{resolver}_wall_ms'),
                'cpu_ms': figures.get(f'dns.{resolver}_cpu_ms'),
            }
        results[(r, 'lookups', 'info')] = figures
        log(f'dns run {r + 1}: ares {figures.get("dns.ares_wall_ms", 0):.0f} ms, thread '
            f'{figures.get("dns.thread_wall_ms", 0):.0f} ms, native {figures.get("dns.native_wall_ms", 0):.0f} ms')
    return ('program', results, problems)
