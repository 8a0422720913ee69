"""HTTP workload: /usr/bin/python3's http.server.ThreadingHTTPServer (a
thread per connection; tests/bench/http/keepalive_http_server.py, HTTP/1.1
keep-alive) natively and under the preload, driven by wrk (one wrk thread
on LOADGEN_CPU, N keep-alive connections, GET of a 128-byte file), server
on SERVER_CPU. Each run: start the server, a warm-up wrk with 10 clients,
the measured wrk at full concurrency (its window includes opening the N
connections: the server accepts them one by one under the GIL); the server's RSS, OS threads and CPU are read from /proc
near the end of the window; then SIGTERM.
"""
import os
import re
import subprocess
import tempfile
import time

from . import echo
from .setup import BENCH

SERVER = os.path.join(BENCH, 'http', 'keepalive_http_server.py')
VARIANTS = {'python native': False, 'python preload': True}
REFERENCE = 'python native'
UNITS = {'us': 1.0, 'ms': 1e3, 's': 1e6}


def parse_wrk(text):
    f = {}
    m = re.search(r'Requests/sec:\s+([\d.]+)', text)
    if m:
        f['requests_per_second'] = float(m.group(1))
    for q, key in (('50', 'latency_p50_us'), ('99', 'latency_p99_us')):
        m = re.search(rf'^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$', text, re.M)
        if m:
            f[key] = float(m.group(1)) * UNITS[m.group(2)]
    m = re.search(r'(\d+) requests in', text)
    f['requests'] = float(m.group(1)) if m else 0.0
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', text)
    f['errors'] = float(sum(int(x) for x in m.groups())) if m else 0.0
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', text)
    f['bad_responses'] = float(m.group(1)) if m else 0.0
    return f


def proc_sample(pid):
    """(rss_kib, threads, cpu_ticks) of a process, or None."""
    try:
        rss = threads = 0
        with open(f'/proc/{pid}/status') as fh:
            for line in fh:
                if line.startswith('VmRSS:'):
                    rss = int(line.split()[1])
                elif line.startswith('Threads:'):
                    threads = int(line.split()[1])
        with open(f'/proc/{pid}/stat') as fh:
            fields = fh.read().rsplit(')', 1)[1].split()
        return rss, threads, int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def wrk_command(port, connections, seconds):
    return ['taskset', '-c', echo.LOADGEN_CPU, 'wrk', '-t1', f'-c{connections}', f'-d{seconds}s',
            '--timeout', '10s', '--latency', f'http://127.0.0.1:{port}/file.txt']


def measure(variant, connections, paths, duration, warmup, docroot):
    what = f'{variant} at {connections:,}'
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    env.pop('GREENHUB_HUBS', None)
    if VARIANTS[variant]:
        env['LD_PRELOAD'] = paths['preload']
    with tempfile.TemporaryFile() as server_err:
        try:
            server, port = echo.start_server(
                ['taskset', '-c', echo.SERVER_CPU, '/usr/bin/python3', SERVER, docroot], env,
                server_err, what)
        except echo.Failed as e:
            return {'failed': str(e)}
        f = {}
        problem = None
        try:
            if warmup > 0:  # warms the interpreter with few clients: a warm-up at full
                # concurrency would leave the server a storm of dead connections to drain
                subprocess.run(wrk_command(port, min(connections, 10), max(1, round(warmup))),
                               capture_output=True, timeout=warmup + 60)
            seconds = max(1, round(duration))
            wrk = subprocess.Popen(wrk_command(port, connections, seconds), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
            time.sleep(0.2 * seconds)
            start, t0 = proc_sample(server.pid), time.monotonic()
            time.sleep(0.7 * seconds)
            end, t1 = proc_sample(server.pid), time.monotonic()
            out, _ = wrk.communicate(timeout=seconds + 60)
            f = parse_wrk(out)
            if start and end:
                f['server_rss_kib'] = float(end[0])
                f['server_threads'] = float(end[1])
                f['server_memory_kib'] = float(end[0] + 16 * end[1])
                f['server_cpu_percent'] = 100.0 * (end[2] - start[2]) / os.sysconf('SC_CLK_TCK') / (t1 - t0)
            if wrk.returncode != 0 or not f.get('requests'):
                problem = f'{what}: wrk status {wrk.returncode}: {out.strip()[-300:]}'
            elif f['bad_responses'] > 0:
                problem = f'{what}: {f["bad_responses"]:.0f} non-2xx responses'
        except subprocess.TimeoutExpired:
            problem = f'{what}: wrk timed out'
        problem = problem or echo.stop_server(server, what)
        if problem:
            server_err.seek(0)
            tail = server_err.read().decode(errors='replace').strip()[-500:]
            f['failed'] = problem + (f' | server stderr: {tail}' if tail else '')
    return f


def run(paths, runs, levels, duration, warmup, log):
    results = {}
    variants = list(VARIANTS)
    with tempfile.TemporaryDirectory() as docroot:
        with open(os.path.join(docroot, 'file.txt'), 'w') as fh:
            fh.write('greenhub benchmark: a 128-byte static file served by http.server.\n'.ljust(127, '.') + '\n')
        for r in range(runs):
            order = variants[r % 2:] + variants[:r % 2]
            for level in levels:
                for variant in order:
                    f = measure(variant, level, paths, duration, warmup, docroot)
                    results[(r, level, variant)] = f
                    if f.get('failed'):
                        log(f'http run {r + 1}: FAILED {f["failed"]}')
                    else:
                        log(f'http run {r + 1}: {variant} at {level:,}: '
                            f'{f["requests_per_second"]:,.0f} req/s, p99 {f.get("latency_p99_us", 0):.0f} us, '
                            f'{f.get("server_threads", 0):.0f} threads, errors {f["errors"]:.0f}')
    return results
