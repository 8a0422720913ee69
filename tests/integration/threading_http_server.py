"""A static file server as a Python user would write it: the standard
library's http.server.ThreadingHTTPServer (a thread per request), serving
DIRECTORY on 127.0.0.1 at any free port.

    /usr/bin/python3 threading_http_server.py DIRECTORY

Prints "listening on 127.0.0.1:PORT" when ready; stops on SIGTERM (exit 0).
Like any server meant for many clients, it raises its open-files limit and
its listen backlog (socketserver's default backlog is 5).
"""
import functools
import http.server
import resource
import signal
import sys


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 4096


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def stop(signum, frame):
    raise SystemExit(0)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    handler = functools.partial(QuietHandler, directory=sys.argv[1])
    server = Server(('127.0.0.1', 0), handler)
    signal.signal(signal.SIGTERM, stop)
    print(f'listening on 127.0.0.1:{server.server_address[1]}', flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == '__main__':
    main()
