"""tests/integration/threading_http_server.py (the standard library's
http.server.ThreadingHTTPServer, a thread per connection) speaking
HTTP/1.1, so that a client's connection is kept alive across requests the
way a benchmark's clients (wrk) use it. SimpleHTTPRequestHandler sends a
Content-Length with every file, which is all keep-alive needs.

    /usr/bin/python3 keepalive_http_server.py DIRECTORY
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'integration'))
import threading_http_server  # noqa: E402

threading_http_server.QuietHandler.protocol_version = 'HTTP/1.1'

if __name__ == '__main__':
    threading_http_server.main()
