#!/usr/bin/python3
"""curl and wget, unmodified Debian binaries, fetch files from a local HTTP
server under the preload and produce the same files, and the same exit
statuses, as natively.

    fetch_test.py --preload LIB --server-script threading_http_server.py

A 4 MiB random file and an empty file are served by threading_http_server.py
twice: natively, and under the preload. Each tool fetches each file
  natively from the native server (the reference),
  under the preload (GREENHUB_HUBS=1 and 2) from the native server,
  under the preload from the green server;
and, for the error paths, a missing file (404: curl -f exits 22, wget 8)
and a port nobody listens on (curl 7, wget 4). Every fetch must exit with
the reference's status and, when it succeeds, write a file equal to the
original byte for byte.
"""
import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tempfile

from server_process import Server, environment


def fetch_command(tool, url, out):
    if tool == 'curl':
        return ['curl', '-q', '--noproxy', '*', '-sS', '-f', '--max-time', '60', '-o', out, url]
    return ['wget', '--no-config', '--no-proxy', '-q', '--tries=1', '--timeout=60', '-O', out, url]


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha256_of(path):
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preload', required=True)
    ap.add_argument('--server-script', required=True)
    a = ap.parse_args()

    failures = []
    with tempfile.TemporaryDirectory() as root:
        served = os.path.join(root, 'served')
        os.mkdir(served)
        files = {'blob': os.urandom(4 * 1024 * 1024), 'empty': b''}
        for name, data in files.items():
            with open(os.path.join(served, name), 'wb') as f:
                f.write(data)
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}

        script = ['/usr/bin/python3', a.server_script, served]
        refused = closed_port()
        servers = []
        try:
            native_server = Server(script, environment())
            servers.append(native_server)
            green_server = Server(script, environment(a.preload, 1))
            servers.append(green_server)
            targets = [(name, f'http://127.0.0.1:{{port}}/{name}', digests[name]) for name in files]
            targets.append(('missing', 'http://127.0.0.1:{port}/missing', None))
            runs = 0
            for tool in ('curl', 'wget'):
                for name, url_pattern, digest in targets:
                    clients = [('native client', environment(), native_server.port),
                               ('green client, 1 hub', environment(a.preload, 1), native_server.port),
                               ('green client, 2 hubs', environment(a.preload, 2), native_server.port),
                               ('green client and server', environment(a.preload, 1), green_server.port)]
                    if name == 'missing':
                        clients.append(('native client, refused', environment(), refused))
                        clients.append(('green client, refused', environment(a.preload, 1), refused))
                    reference = {}
                    for label, env, port in clients:
                        out = os.path.join(root, f'out-{tool}-{name}-{runs}')
                        runs += 1
                        cmd = fetch_command(tool, url_pattern.format(port=port), out)
                        try:
                            p = subprocess.run(cmd, env=env, capture_output=True, timeout=90)
                            status = p.returncode
                        except subprocess.TimeoutExpired:
                            status, p = 'timeout', None
                        kind = 'refused' if port == refused else 'served'
                        if label.startswith('native'):
                            reference[kind] = status
                        what = f'{tool} {name} ({label})'
                        if status != reference.get(kind):
                            failures.append(f'{what}: exit status {status}, natively '
                                            f'{reference.get(kind)}; stderr: '
                                            f'{p.stderr.decode(errors="replace")[-500:] if p else ""}')
                        elif digest is not None and sha256_of(out) != digest:
                            failures.append(f'{what}: the fetched file differs from the original')
                        elif digest is None and status == 0:
                            failures.append(f'{what}: status 0 for a failed fetch')
                        else:
                            print(f'ok: {what}: status {status}'
                                  + (', file identical' if digest is not None else ''))
        except AssertionError as e:
            failures.append(str(e))
        finally:
            for server in servers:
                status, _ = server.stop()
                if status != 0:
                    failures.append(f'{server.cmd} exit status {status} after SIGTERM\n'
                                    f'{server.stderr_text()}')
    for failure in failures:
        print(f'FAILED: {failure}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
