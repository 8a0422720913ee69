#!/usr/bin/python3
"""The load generator's own checks can fail: against a correct echo server
it reports every connection held and no error (exit 0); against one that
flips a byte it reports corrupt messages, against one that hangs up early
it reports I/O errors, and against a closed port connect errors (exit 1
each); bad arguments exit 2.

    loadgen_test.py LOADGEN
"""
import asyncio
import socket
import subprocess
import sys
import threading


def serve(mode, ready):
    async def handle(reader, writer):
        echoed = 0
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                if mode == 'corrupt' and echoed <= 1000 < echoed + len(data):
                    i = 1000 - echoed
                    data = data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1:]
                if mode == 'hangup' and echoed >= 640:
                    break
                echoed += len(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, '127.0.0.1', 0)
        ready.append(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_server(mode):
    ready = []
    threading.Thread(target=serve, args=(mode, ready), daemon=True).start()
    while not ready:
        threading.Event().wait(0.01)
    return ready[0]


def run(loadgen, args):
    p = subprocess.run([loadgen] + args, capture_output=True, text=True, timeout=60)
    figures = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith('#'):
            figures[parts[0]] = float(parts[1])
    return p.returncode, figures, p.stdout + p.stderr


def main():
    loadgen = sys.argv[1]
    failures = []
    common = ['--connections', '20', '--duration', '0.5', '--warmup', '0.1',
              '--connect-timeout', '10', '--drain-timeout', '2']

    status, f, out = run(loadgen, ['--port', str(start_server('echo'))] + common)
    if status != 0 or f.get('connections_held') != 20 or f.get('errors') != 0 or \
            f.get('bytes_checked', 0) < 20 * 64:
        failures.append(f'correct server: status {status}\n{out}')

    status, f, out = run(loadgen, ['--port', str(start_server('corrupt'))] + common)
    if status != 1 or f.get('corrupt_messages', 0) != 20:
        failures.append(f'byte-flipping server: status {status}, expected 20 corrupt messages\n{out}')

    status, f, out = run(loadgen, ['--port', str(start_server('hangup'))] + common)
    if status != 1 or f.get('io_errors', 0) != 20:
        failures.append(f'hanging-up server: status {status}, expected 20 I/O errors\n{out}')

    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    closed = s.getsockname()[1]
    s.close()
    status, f, out = run(loadgen, ['--port', str(closed)] + common)
    if status != 1 or f.get('connect_errors') != 20 or f.get('connections_held') != 0:
        failures.append(f'closed port: status {status}, expected 20 connect errors\n{out}')

    for bad in ([], ['--port', '0'], ['--port', '80', '--connections', 'x'],
                ['--port', '80', '--size', '100000'], ['--port', '80', 'extra']):
        status, _, out = run(loadgen, bad)
        if status != 2:
            failures.append(f'arguments {bad}: status {status}, expected 2\n{out}')

    for failure in failures:
        print(f'FAILED: {failure}')
    if not failures:
        print('ok: correct, corrupting, hanging-up and absent servers, and bad arguments')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
