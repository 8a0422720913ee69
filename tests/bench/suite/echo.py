"""Echo workload: 64-byte ping-pong over loopback, every echo server
variant at every connection level, interleaved and repeated.

For each run, each level and each variant (the variants rotate their order
from run to run, so none is always first after a cold start), the server
starts on SERVER_CPU (taskset), the bundled load generator (tests/loadgen)
on LOADGEN_CPU opens that many connections (at most 256 handshakes in
flight, up to CONNECT_TIMEOUT_S to get them all up and echoing), runs the
ping-pong (warm-up, then the measured window; every byte checked), reads
the server's RSS, OS threads and CPU from /proc at the end of the window,
and the server gets SIGTERM. A variant that does not hold every connection,
corrupts a byte, or does not stop is recorded as failed at that level (the
suite goes on); the largest level each variant held is its capacity.

Memory = server RSS + 16 KiB of kernel stack per OS thread (x86-64
THREAD_SIZE), read while every connection is held. Socket buffers are
kernel memory charged to neither side and are the same for every variant.
"""
import os
import re
import select
import signal
import subprocess
import tempfile

SERVER_CPU, LOADGEN_CPU = '0', '1'
CONNECT_TIMEOUT_S = 60
MEMORY_LIMIT_KIB = 8 * 1024 * 1024

# name -> (program key in setup paths, preload?, GREENHUB_HUBS or None)
VARIANTS = {
    'legacy native': ('legacy', False, None),
    'legacy preload 1 hub': ('legacy', True, '1'),
    'legacy preload': ('legacy', True, None),
    'epoll ref': ('epoll', False, None),
    'greenhub C++ API': ('greenhub_echo', False, None),
    'Go net': ('go_echo', False, None),
}
REFERENCE = 'epoll ref'
PRELOAD_DEFAULT = 'legacy preload'
GO = 'Go net'


class Failed(Exception):
    pass


def server_env(variant, paths):
    _, preload, hubs = VARIANTS[variant]
    env = dict(os.environ)
    for k in ('LD_PRELOAD', 'GREENHUB_HUBS', 'GOMAXPROCS'):
        env.pop(k, None)
    if preload:
        env['LD_PRELOAD'] = paths['preload']
        if hubs is not None:
            env['GREENHUB_HUBS'] = hubs
    return env


def start_server(cmd, env, stderr_file, what):
    """Starts a server that prints 'listening on 127.0.0.1:PORT'; returns (proc, port)."""
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr_file)
    ready, _, _ = select.select([server.stdout], [], [], 20)
    line = server.stdout.readline().decode(errors='replace') if ready else ''
    m = re.search(r'listening on 127\.0\.0\.1:(\d+)', line)
    if not m:
        server.kill()
        server.wait()
        raise Failed(f'{what}: server did not report its port (got {line!r})')
    return server, int(m.group(1))


def stop_server(server, what, timeout=30):
    """SIGTERM, then wait; returns a problem description or None."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        return f'{what}: server did not stop within {timeout} s of SIGTERM'
    if server.returncode not in (0, -signal.SIGTERM):
        return f'{what}: server exited with status {server.returncode}'
    return None


def parse_key_values(text):
    figures = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith('#'):
            try:
                figures[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return figures


def measure(variant, connections, paths, duration, warmup):
    """One server, one load generator run: the loadgen's figures, with
    'failed' set to the reason when the run did not hold up."""
    key = VARIANTS[variant][0]
    what = f'{variant} at {connections:,}'
    with tempfile.TemporaryFile() as server_err:
        try:
            server, port = start_server(['taskset', '-c', SERVER_CPU, paths[key], '0'],
                                        server_env(variant, paths), server_err, what)
        except Failed as e:
            return {'failed': str(e)}
        cmd = ['taskset', '-c', LOADGEN_CPU, paths['loadgen'], '--port', str(port),
               '--connections', str(connections), '--duration', str(duration),
               '--warmup', str(warmup), '--connect-timeout', str(CONNECT_TIMEOUT_S),
               '--watch-pid', str(server.pid)]
        try:
            lg = subprocess.run(cmd, capture_output=True, text=True,
                                timeout=2 * CONNECT_TIMEOUT_S + duration + warmup + 30)
            figures = parse_key_values(lg.stdout)
            problem = None
            if lg.returncode != 0:
                problem = (f'{what}: load generator status {lg.returncode} (held '
                           f'{figures.get("connections_held", 0):.0f}, errors '
                           f'{figures.get("errors", -1):.0f}) {lg.stderr.strip()[-300:]}')
        except subprocess.TimeoutExpired:
            figures, problem = {}, f'{what}: load generator timed out'
        stop_problem = stop_server(server, what)
        problem = problem or stop_problem
        if figures.get('server_rss_kib_max', 0) > MEMORY_LIMIT_KIB:
            problem = problem or f'{what}: server RSS above 8 GiB'
        if problem:
            server_err.seek(0)
            tail = server_err.read().decode(errors='replace').strip()[-500:]
            figures['failed'] = problem + (f' | server stderr: {tail}' if tail else '')
    return figures


def run(paths, runs, levels, variants, duration, warmup, log):
    """Returns {(run, level, variant): figures}. A variant that could not
    hold every connection of a level is not tried again at that level or
    above in later runs (its capacity is known; a thread-per-connection
    server that runs out of threads costs the full 60 s connect timeout)."""
    results = {}
    ceiling = {}
    for r in range(runs):
        shift = r % len(variants)
        order = variants[shift:] + variants[:shift]
        for level in levels:
            for variant in order:
                if level >= ceiling.get(variant, level + 1):
                    log(f'echo run {r + 1}: {variant} at {level:,}: skipped (did not hold '
                        f'{ceiling[variant]:,} before)')
                    continue
                f = measure(variant, level, paths, duration, warmup)
                if f.get('connections_held', level) < level:
                    ceiling[variant] = min(level, ceiling.get(variant, level))
                results[(r, level, variant)] = f
                if f.get('failed'):
                    log(f'echo run {r + 1}: FAILED {f["failed"]}')
                else:
                    log(f'echo run {r + 1}: {variant} at {level:,}: '
                        f'{f["requests_per_second"]:,.0f} req/s, p99 {f["latency_p99_us"]:.0f} us, '
                        f'{f["server_memory_kib"] / 1024:.1f} MiB, '
                        f'{f["server_threads"]:.0f} threads, server CPU {f["server_cpu_percent"]:.0f} %')
    return results
