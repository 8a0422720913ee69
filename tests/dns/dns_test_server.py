#!/usr/bin/python3
"""The DNS server of the dns tests: a fixed zone served on 127.a.b.c:53.

Usage: dns_test_server.py ADDRESS [--port PORT] [--delay-ms MS]

Binds UDP and TCP on ADDRESS:PORT, prints "READY" on stdout once both are
bound, and serves until killed. Exits 3 when the address is in use (the
caller picks another loopback address), 2 on bad arguments.

It answers like a recursive resolver that owns the zone `test.` (and the
reverse names below): every answer has AA and RA set, echoes the question
as it was asked, and follows CNAME chains inside the zone, putting the whole
chain before the final records. Behaviour by name (case-insensitive):

  names in ZONE              their records; NODATA (NOERROR, no answer)
                             for a type they lack; NXDOMAIN for unknown names
  servfail.test / refused.test ...   that rcode (see RCODES)
  *.servfail.test            SERVFAIL (a search domain that fails)
  servfail-aaaa.test         A answered, AAAA gets SERVFAIL
  tc.test                    over UDP: an empty answer with TC set; over TCP
                             the records (forces the client to TCP)
  big.test                   60 A records: over 512 bytes, so truncated (TC)
                             over UDP unless EDNS allows more
  blackhole.test             never answered (client timeouts)
  slow.test                  answered after 300 ms
  <label>.d<MS>.bulk.test    A 10.x.y.z and AAAA fd00:77::x:y:z derived from
                             the label, answered after MS milliseconds
  <label>.bulk.test          the same, after --delay-ms
  stats.control.test TXT     "inflight_max=N total=M": the most queries that
                             were waiting for their answer at once, and the
                             number of queries, since the last reset
  reset.control.test TXT     resets those counters

Every other answer is sent after --delay-ms (default 0).
"""

import asyncio
import errno
import hashlib
import ipaddress
import socket
import struct
import sys

T_A, T_NS, T_CNAME, T_SOA, T_PTR, T_MX, T_TXT, T_AAAA, T_OPT = 1, 2, 5, 6, 12, 15, 16, 28, 41
C_IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5


def _reverse4(address):
    return ".".join(reversed(address.split("."))) + ".in-addr.arpa"


def _reverse6(address):
    nibbles = ipaddress.IPv6Address(address).exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + ".ip6.arpa"


# name -> list of (type, value). CNAME values are names; the chain is followed.
ZONE = {
    "a.test": [(T_A, "192.0.2.1")],
    "v4only.test": [(T_A, "203.0.113.4")],
    "v6only.test": [(T_AAAA, "2001:db8::6")],
    "dual.test": [(T_A, "192.0.2.20"), (T_AAAA, "2001:db8::20")],
    "multi.test": [
        (T_A, "198.51.100.7"), (T_A, "192.0.2.10"), (T_A, "10.0.0.1"),
        (T_A, "127.0.0.7"), (T_A, "169.254.3.3"),
        (T_AAAA, "2001:db8::10"), (T_AAAA, "fd00::10"), (T_AAAA, "::1"),
        (T_AAAA, "fe80::10"), (T_AAAA, "2002:c000:201::1"), (T_AAAA, "::ffff:192.0.2.99"),
    ],
    "loop.test": [(T_A, "127.0.0.9"), (T_AAAA, "::1")],
    "alias.test": [(T_CNAME, "mid.test")],
    "mid.test": [(T_CNAME, "real.test")],
    "real.test": [(T_A, "192.0.2.30"), (T_A, "192.0.2.31"), (T_AAAA, "2001:db8::30")],
    "dangling.test": [(T_CNAME, "nowhere.test")],
    "to-nodata.test": [(T_CNAME, "nodata.test")],
    "to-v6only.test": [(T_CNAME, "v6only.test")],
    "to-badname.test": [(T_CNAME, "bad_name.test")],
    "bad_name.test": [(T_A, "192.0.2.40")],
    "nodata.test": [(T_MX, "a.test")],
    "mxonly.test": [(T_MX, "a.test")],
    "MixedCase.test": [(T_A, "192.0.2.41")],
    "www.test": [(T_A, "192.0.2.50")],
    "www.sub.test": [(T_A, "192.0.2.51"), (T_AAAA, "2001:db8::51")],
    "only.sub.test": [(T_A, "192.0.2.52")],
    "servfail-aaaa.test": [(T_A, "192.0.2.60")],
    "tc.test": [(T_A, "192.0.2.70"), (T_AAAA, "2001:db8::70")],
    "big.test": [(T_A, "198.18.0.%d" % i) for i in range(1, 61)],
    "slow.test": [(T_A, "192.0.2.80")],
    "filehost.test": [(T_A, "192.0.2.99")],
    "host": [(T_A, "192.0.2.90")],
}

# Names whose A and AAAA answers carry an extra address record whose owner
# is a name that was never asked for (glibc's parsers differ on those).
FOREIGN_OWNER = {"foreign.test": "elsewhere.test"}
ZONE["foreign.test"] = [(T_A, "192.0.2.44")]

REVERSE = {
    _reverse4("192.0.2.1"): [(T_PTR, "a.test")],
    _reverse4("192.0.2.30"): [(T_PTR, "real.test")],
    _reverse4("203.0.113.4"): [(T_PTR, "v4only.test")],
    _reverse4("192.0.2.66"): [(T_CNAME, "66.64/26.2.0.192.in-addr.arpa")],
    "66.64/26.2.0.192.in-addr.arpa": [(T_PTR, "classless.test")],
    _reverse4("192.0.2.67"): [(T_PTR, "bad_ptr_name.test")],
    _reverse6("2001:db8::6"): [(T_PTR, "v6only.test")],
    _reverse6("2001:db8::30"): [(T_PTR, "real.test")],
}
ZONE.update(REVERSE)

RCODES = {"servfail.test": SERVFAIL, "refused.test": REFUSED, "notimp.test": NOTIMP,
          "formerr.test": FORMERR, "servfail.sub.test": SERVFAIL}

ZONE_LOWER = {name.lower(): records for name, records in ZONE.items()}


class Stats:
    inflight = 0
    inflight_max = 0
    total = 0


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_question(message):
    """Returns (name, qtype, qclass, question_end) or None."""
    labels, pos = [], 12
    while True:
        if pos >= len(message):
            return None
        length = message[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0:
            return None
        labels.append(message[pos + 1:pos + 1 + length].decode("latin-1"))
        pos += 1 + length
    if pos + 4 > len(message):
        return None
    qtype, qclass = struct.unpack("!HH", message[pos:pos + 4])
    return ".".join(labels), qtype, qclass, pos + 4


def bulk_records(name):
    digest = hashlib.sha256(name.split(".")[0].encode()).digest()
    a = "10.%d.%d.%d" % (digest[0], digest[1], digest[2])
    aaaa = "fd00:77::%x:%x:%x" % (digest[0], digest[1], digest[2])
    return [(T_A, a), (T_AAAA, aaaa)]


def records_for(name):
    """The records of a name, or None if the name does not exist."""
    if name in ZONE_LOWER:
        return ZONE_LOWER[name]
    parts = name.split(".")
    if name.endswith(".bulk.test") and len(parts) >= 3:
        return bulk_records(name)
    return None


def delay_for(name, default_ms):
    parts = name.split(".")
    if name.endswith(".bulk.test") and len(parts) == 4 and parts[1].startswith("d"):
        try:
            return int(parts[1][1:])
        except ValueError:
            return default_ms
    if name == "slow.test":
        return 300
    return default_ms


def encode_rdata(rtype, value):
    if rtype == T_A:
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == T_AAAA:
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype in (T_CNAME, T_PTR, T_NS):
        return encode_name(value)
    if rtype == T_MX:
        return struct.pack("!H", 10) + encode_name(value)
    if rtype == T_TXT:
        raw = value.encode()
        return bytes([len(raw)]) + raw
    raise ValueError(rtype)


def encode_record(owner, rtype, value, qname_lower):
    # Records owned by the question name point at it (compression), as
    # real servers do; the others spell their owner out.
    owner_bytes = b"\xc0\x0c" if owner == qname_lower else encode_name(owner)
    rdata = encode_rdata(rtype, value)
    return owner_bytes + struct.pack("!HHIH", rtype, C_IN, 300, len(rdata)) + rdata


def build_answer(query, over_tcp):
    """Returns (response bytes, delay_ms) or (None, None) to stay silent."""
    question = decode_question(query)
    if question is None or len(query) < 12:
        return None, None
    qname, qtype, qclass, qend = question
    name = qname.lower().rstrip(".")
    (qid, flags) = struct.unpack("!HH", query[:4])
    rd = flags & 0x0100
    rcode, answers, truncated = NOERROR, [], False

    if name == "stats.control.test" and qtype == T_TXT:
        text = "inflight_max=%d total=%d" % (Stats.inflight_max, Stats.total)
        answers.append(encode_record(name, T_TXT, text, name))
    elif name == "reset.control.test" and qtype == T_TXT:
        Stats.inflight_max = Stats.inflight
        Stats.total = 0
        answers.append(encode_record(name, T_TXT, "reset", name))
    elif name == "blackhole.test":
        return None, None
    elif name in RCODES:
        rcode = RCODES[name]
    elif name.endswith(".servfail.test"):
        rcode = SERVFAIL
    elif name == "servfail-aaaa.test" and qtype == T_AAAA:
        rcode = SERVFAIL
    elif name == "tc.test" and not over_tcp:
        truncated = True
    else:
        current, seen = name, 0
        while True:
            records = records_for(current)
            if records is None:
                rcode = NXDOMAIN
                break
            cname = [value for rtype, value in records if rtype == T_CNAME]
            if cname and qtype != T_CNAME and seen < 8:
                answers.append(encode_record(current, T_CNAME, cname[0], name))
                current, seen = cname[0].lower(), seen + 1
                continue
            for rtype, value in records:
                if rtype == qtype:
                    answers.append(encode_record(current, rtype, value, name))
            if current in FOREIGN_OWNER and qtype in (T_A, T_AAAA):
                extra = "192.0.2.45" if qtype == T_A else "2001:db8::45"
                answers.append(encode_record(FOREIGN_OWNER[current], qtype, extra, name))
            break

    header_flags = 0x8000 | 0x0400 | rd | 0x0080 | rcode   # QR AA RD RA
    body = b"".join(answers)
    response = (struct.pack("!HHHHHH", qid, header_flags, 1, len(answers), 0, 0)
                + query[12:qend] + body)
    if not over_tcp and (truncated or len(response) > 512):
        response = (struct.pack("!HHHHHH", qid, header_flags | 0x0200, 1, 0, 0, 0)
                    + query[12:qend])
    return response, delay_for(name, DEFAULT_DELAY_MS)


DEFAULT_DELAY_MS = 0


class UdpServer(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        response, delay_ms = build_answer(data, over_tcp=False)
        if response is None:
            return
        Stats.total += 1
        Stats.inflight += 1
        Stats.inflight_max = max(Stats.inflight_max, Stats.inflight)

        def send():
            Stats.inflight -= 1
            self.transport.sendto(response, addr)

        if delay_ms:
            asyncio.get_running_loop().call_later(delay_ms / 1000.0, send)
        else:
            send()


async def serve_tcp(reader, writer):
    try:
        while True:
            header = await reader.readexactly(2)
            (length,) = struct.unpack("!H", header)
            query = await reader.readexactly(length)
            response, delay_ms = build_answer(query, over_tcp=True)
            if response is None:
                continue
            Stats.total += 1
            Stats.inflight += 1
            Stats.inflight_max = max(Stats.inflight_max, Stats.inflight)
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000.0)
            Stats.inflight -= 1
            writer.write(struct.pack("!H", len(response)) + response)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(address, port):
    loop = asyncio.get_running_loop()
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((address, port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((address, port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            sys.exit(3)
        raise
    # Room for thousands of queries arriving at once (SO_RCVBUFFORCE goes
    # past net.core.rmem_max; it needs root, as these tests do).
    try:
        udp.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    await loop.create_datagram_endpoint(UdpServer, sock=udp)
    server = await asyncio.start_server(serve_tcp, sock=tcp, backlog=1024)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def parse_args(argv):
    global DEFAULT_DELAY_MS
    if not argv:
        sys.stderr.write(__doc__)
        sys.exit(2)
    address, port, i = argv[0], 53, 1
    while i < len(argv):
        if argv[i] == "--port" and i + 1 < len(argv):
            port = int(argv[i + 1])
        elif argv[i] == "--delay-ms" and i + 1 < len(argv):
            DEFAULT_DELAY_MS = int(argv[i + 1])
        else:
            sys.stderr.write("dns_test_server.py: unknown argument %r\n" % argv[i])
            sys.exit(2)
        i += 2
    return address, port


if __name__ == "__main__":
    try:
        asyncio.run(main(*parse_args(sys.argv[1:])))
    except KeyboardInterrupt:
        pass
