#!/usr/bin/python3
"""Real binaries resolving green, inside dns_sandbox (the test DNS server).

    real_binaries.py PRELOAD python|curl

python: /usr/bin/python3 resolves 500 names at once with socket.getaddrinfo
        from 500 threads (green threads under the preload), each answered by
        the server after 200 ms; every answer must be the server's and the
        whole must take a small multiple of 200 ms (generous bound: 10 s;
        500 lookups one after the other would take 100 s). Under the
        preload the resolver statistics (GREENHUB_RESOLVER_STATS) must show
        the lookups answered by the asynchronous resolver.
curl:   Debian's curl resolves with libcurl's threaded resolver (libcurl
        imports getaddrinfo and no c-ares): a thread it creates calls
        getaddrinfo, which under the preload is a green thread whose lookup
        goes to the hub's resolver. curl fetches http://loop.test:PORT/ from
        a server on 127.0.0.9 (loop.test's A record in the test zone), -4;
        natively and under the preload it must get the same page, and under
        the preload the lookup must have been answered by the asynchronous
        resolver.
"""
import hashlib
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
import time

PYTHON_CHILD = r'''
import hashlib, socket, sys, threading, time
N = 500
results = [None] * N
barrier = threading.Barrier(N + 1)

def expected(label):
    d = hashlib.sha256(label.encode()).digest()
    return "10.%d.%d.%d" % (d[0], d[1], d[2])

def work(i):
    name = "py%d.d200.bulk.test" % i
    barrier.wait()
    try:
        infos = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
        results[i] = [info[4][0] for info in infos] == [expected("py%d" % i)]
    except OSError as e:
        print("lookup of %s failed: %s" % (name, e), file=sys.stderr)
        results[i] = False

threads = [threading.Thread(target=work, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
barrier.wait()
start = time.monotonic()
for t in threads:
    t.join()
print("ok=%d wall_ms=%d" % (sum(1 for r in results if r), (time.monotonic() - start) * 1000))
'''


def stats(stderr):
    m = re.search(r"resolver lookups: ares=(\d+) thread=(\d+) block=(\d+) ares_fallbacks=(\d+)",
                  stderr)
    return tuple(int(x) for x in m.groups()) if m else None


def green_env(preload):
    env = dict(os.environ, LD_PRELOAD=preload, GREENHUB_RESOLVER="ares",
               GREENHUB_RESOLVER_STATS="1")
    env.pop("GREENHUB_HUBS", None)
    return env


def test_python(preload):
    p = subprocess.run(["/usr/bin/python3", "-c", PYTHON_CHILD], env=green_env(preload),
                       capture_output=True, text=True, timeout=120)
    print("python3 under the preload:", p.stdout.strip(), "status", p.returncode)
    s = stats(p.stderr)
    print("resolver statistics:", s)
    m = re.match(r"ok=(\d+) wall_ms=(\d+)", p.stdout)
    failures = []
    if p.returncode != 0 or m is None:
        failures.append("python3 failed:\n" + p.stderr[-3000:])
    else:
        ok, wall = int(m.group(1)), int(m.group(2))
        if ok != 500:
            failures.append("%d of 500 lookups returned a wrong answer\n%s" % (500 - ok, p.stderr[-3000:]))
        if wall >= 10000:
            failures.append("500 lookups of 200 ms took %d ms: they did not run at once" % wall)
    if s is None or s[0] < 500 or s[1] != 0 or s[2] != 0:
        failures.append("the lookups were not answered by the asynchronous resolver: %s" % (s,))
    return failures


class Page(http.server.BaseHTTPRequestHandler):
    BODY = b"greenhub dns test page\n"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, *args):
        pass


def test_curl(preload):
    server = http.server.HTTPServer(("127.0.0.9", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://loop.test:%d/" % server.server_address[1]
    cmd = ["curl", "-4", "-sS", "--max-time", "20", url]
    native_env = dict(os.environ)
    native_env.pop("LD_PRELOAD", None)
    native = subprocess.run(cmd, env=native_env, capture_output=True, timeout=60)
    green = subprocess.run(cmd, env=green_env(preload), capture_output=True, timeout=60)
    server.shutdown()
    s = stats(green.stderr.decode(errors="replace"))
    print("curl natively: status %d, %r" % (native.returncode, native.stdout))
    print("curl under the preload: status %d, %r; resolver statistics %s"
          % (green.returncode, green.stdout, s))
    failures = []
    if native.returncode != 0 or native.stdout != Page.BODY:
        failures.append("curl natively did not fetch the page: %r" % native.stderr)
    if (green.returncode, green.stdout) != (native.returncode, native.stdout):
        failures.append("curl under the preload differs: %r" % green.stderr[-2000:])
    if s is None or s[0] < 1 or s[1] != 0:
        failures.append("curl's lookup was not answered by the asynchronous resolver: %s" % (s,))
    return failures


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("python", "curl"):
        print(__doc__, file=sys.stderr)
        return 2
    preload = os.path.abspath(sys.argv[1])
    failures = test_python(preload) if sys.argv[2] == "python" else test_curl(preload)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
