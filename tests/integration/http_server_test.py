#!/usr/bin/python3
"""/usr/bin/python3 running http.server.ThreadingHTTPServer (a thread per
request) serves many concurrent clients, natively or under the preload.

    http_server_test.py --server-script threading_http_server.py --clients N
                        [--preload LIB --hubs H]

The clients (this process, natively, with asyncio) open N connections and
send each a request without its final blank line, so every one of the
server's handler threads is blocked reading headers. Once the server's
listen queue is empty (every connection accepted; read from /proc/net/tcp)
the server's OS threads are counted; then every request is completed and
every response read and checked (status 200, body equal to the file by
SHA-256) while the thread count is sampled. Checks: every client served
intact; under the preload at most H hubs + 3 OS threads at any sample;
natively (the control) at least N threads while the requests are held;
SIGTERM stops the server with status 0.
"""
import argparse
import asyncio
import hashlib
import os
import resource
import sys
import tempfile
import time

from server_process import Server, environment

EXTRA_OS_THREADS = 3
FILE_SIZE = 16 * 1024


def listen_queue_length(port):
    """Connections waiting in the listen queue of 127.0.0.1:port, or None."""
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == '0A' and int(local.split(':')[1], 16) == port:
                return int(queues.split(':')[1], 16)
    return None


async def run_clients(server, n, digest, samples):
    async def sample_threads(stop):
        while not stop.is_set():
            samples.append(server.os_threads())
            await asyncio.sleep(0.02)

    connect_slots = asyncio.Semaphore(100)

    async def open_one():
        async with connect_slots:
            reader, writer = await asyncio.open_connection('127.0.0.1', server.port)
        writer.write(b'GET /blob HTTP/1.0\r\nHost: 127.0.0.1\r\n')
        await writer.drain()
        return reader, writer

    conns = await asyncio.gather(*(open_one() for _ in range(n)))
    deadline = time.monotonic() + 60
    while listen_queue_length(server.port) != 0:
        if time.monotonic() > deadline:
            raise AssertionError(f'the server left {listen_queue_length(server.port)} '
                                 'connections unaccepted for 60 s')
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # let the last accepted connections reach their handler thread
    held_threads = server.os_threads()

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_threads(stop))

    async def finish_one(reader, writer):
        writer.write(b'\r\n')
        await writer.drain()
        response = await reader.read()  # HTTP/1.0: the server closes after the response
        writer.close()
        head, _, body = response.partition(b'\r\n\r\n')
        return head.split(b'\r\n', 1)[0], hashlib.sha256(body).hexdigest()

    replies = await asyncio.wait_for(asyncio.gather(*(finish_one(r, w) for r, w in conns)), 120)
    stop.set()
    await sampler
    bad = [(status, d) for status, d in replies if not status.startswith(b'HTTP/1.0 200') or d != digest]
    return held_threads, len(replies) - len(bad), bad[:3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--server-script', required=True)
    ap.add_argument('--clients', type=int, required=True)
    ap.add_argument('--preload')
    ap.add_argument('--hubs', type=int, default=1)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    label = f'green, GREENHUB_HUBS={a.hubs}' if a.preload else 'native'

    with tempfile.TemporaryDirectory() as root:
        blob = os.urandom(FILE_SIZE)
        with open(os.path.join(root, 'blob'), 'wb') as f:
            f.write(blob)
        digest = hashlib.sha256(blob).hexdigest()
        server = Server(['/usr/bin/python3', a.server_script, root],
                        environment(a.preload, a.hubs if a.preload else None))
        failures = []
        samples = []
        try:
            held_threads, served, bad = asyncio.run(run_clients(server, a.clients, digest, samples))
        except (AssertionError, OSError, asyncio.TimeoutError) as e:
            server.kill()
            print(f'FAILED ({label}): {type(e).__name__}: {e}\n--- server stderr:\n'
                  f'{server.stderr_text()}')
            return 1
        if served != a.clients:
            failures.append(f'{served} of {a.clients} clients got the file intact; e.g. {bad}')
        most = max([held_threads] + samples)
        if a.preload:
            limit = a.hubs + EXTRA_OS_THREADS
            if most > limit:
                failures.append(f'{held_threads} OS threads with all requests held, at most '
                                f'{most}; expected at most {limit}')
        elif held_threads < a.clients:
            failures.append(f'native server had {held_threads} threads for {a.clients} '
                            'held requests')
        status, _ = server.stop()
        if status != 0:
            failures.append(f'server exit status {status} after SIGTERM')
        if failures:
            for failure in failures:
                print(f'FAILED ({label}): {failure}')
            print('--- server stderr:\n' + server.stderr_text())
            return 1
        print(f'OK ({label}): {served} concurrent clients served {FILE_SIZE} bytes each, '
              f'intact; server OS threads {held_threads} with every request held, '
              f'at most {most}')
        return 0


if __name__ == '__main__':
    sys.exit(main())
