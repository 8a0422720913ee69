#!/usr/bin/python3
"""The bundled legacy server (a pthread per client, blocking calls) holds
many concurrent clients, every byte echoed intact, natively or under the
preload.

    legacy_server_test.py --server BIN --loadgen BIN --connections N
                          [--preload LIB --hubs H] [--duration S]

The load generator holds N connections and runs a checked 64-byte
ping-pong; it reads the server's /proc/PID/task while they are all held
and tracks the largest thread count through the run. Checks:
  - every connection held, no error, no corrupt byte, and at least one
    whole echo per connection;
  - under the preload: at most H hubs plus 3 OS threads, at any sampled
    moment (a pthread per client would be N threads);
  - natively (the control that shows the thread count is real): at least
    N threads while the connections are held;
  - SIGTERM stops the server with status 0, and it reports having served
    every connection.
"""
import argparse
import re
import subprocess
import sys

from server_process import Server, environment

EXTRA_OS_THREADS = 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--server', required=True)
    ap.add_argument('--loadgen', required=True)
    ap.add_argument('--connections', type=int, required=True)
    ap.add_argument('--preload')
    ap.add_argument('--hubs', type=int, default=1)
    ap.add_argument('--duration', type=float, default=2.0)
    a = ap.parse_args()

    label = f'green, GREENHUB_HUBS={a.hubs}' if a.preload else 'native'
    server = Server([a.server, '0'], environment(a.preload, a.hubs if a.preload else None))
    failures = []
    try:
        lg = subprocess.run([a.loadgen, '--port', str(server.port),
                             '--connections', str(a.connections), '--duration', str(a.duration),
                             '--warmup', '0.5', '--connect-timeout', '60',
                             '--watch-pid', str(server.pid)],
                            capture_output=True, text=True, timeout=120 + a.duration)
    except subprocess.TimeoutExpired:
        server.kill()
        print(f'FAILED ({label}): the load generator did not finish\n{server.stderr_text()}')
        return 1
    print(lg.stdout, end='')
    f = {}
    for line in lg.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith('#'):
            f[parts[0]] = int(float(parts[1]))
    n = a.connections
    if f.get('connections_held') != n:
        failures.append(f'held {f.get("connections_held")} of {n} connections')
    for key in ('errors', 'corrupt_messages', 'connect_errors', 'io_errors', 'drain_timeouts'):
        if f.get(key) != 0:
            failures.append(f'{key} = {f.get(key)}')
    if f.get('bytes_checked', 0) < 64 * n:
        failures.append(f'only {f.get("bytes_checked")} bytes echoed and checked for {n} clients')
    if lg.returncode != 0:
        failures.append(f'load generator exit status {lg.returncode}: {lg.stderr.strip()}')
    threads, threads_max = f.get('server_threads', -1), f.get('server_threads_max', -1)
    if threads <= 0 or threads_max <= 0:
        failures.append('the server\'s threads could not be read')
    elif a.preload:
        limit = a.hubs + EXTRA_OS_THREADS
        if threads > limit or threads_max > limit:
            failures.append(f'{threads} OS threads with every connection held '
                            f'(at most {threads_max}); expected at most {limit}')
    elif threads < n:
        failures.append(f'native server has {threads} threads for {n} held connections')

    status, out = server.stop()
    print(out, end='')
    if status != 0:
        failures.append(f'server exit status {status} after SIGTERM')
    m = re.search(r'served (\d+) connections', out)
    if not m or int(m.group(1)) < n:
        failures.append(f'server reported {m.group(1) if m else "nothing"} served connections')

    if failures:
        for failure in failures:
            print(f'FAILED ({label}): {failure}')
        print('--- server stderr:\n' + server.stderr_text())
        return 1
    print(f'OK ({label}): {n} clients held on {threads} OS threads, '
          f'{f["bytes_checked"]} bytes echoed intact, {f["requests_per_second"]} requests/s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
