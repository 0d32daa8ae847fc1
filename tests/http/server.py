#!/usr/bin/env python3
"""A raw HTTP/1.x test server for the endpoint connector's HTTP client.

    server.py PORT_FILE

Binds 127.0.0.1 on a free port, writes the port to PORT_FILE (atomically)
and serves until killed. Every connection gets a number; requests are read
with their Content-Length bodies and answered by the route (the path before
'?'), some of them deliberately malformed. See test_http_client.c.
"""
import os
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

UUID = "3e7a5c1d-2b4f-4a6e-9c8d-7f0e1a2b3c4d"

_next_conn = 0
_lock = threading.Lock()


def pattern(n, seed=0):
    block = bytes((i * 7 + 3 + seed) % 251 for i in range(251))
    return (block * (n // 251 + 1))[:n]


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        global _next_conn
        with _lock:
            _next_conn += 1
            self.conn_id = _next_conn
        self.nreq = 0
        self.buf = b""
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read_request(self):
        while b"\r\n\r\n" not in self.buf:
            data = self.request.recv(65536)
            if not data:
                return None
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            data = self.request.recv(1 << 20)
            if not data:
                return None
            self.buf += data
        body, self.buf = self.buf[:n], self.buf[n:]
        return method, target, headers, body

    def send(self, data):
        self.request.sendall(data)

    def reply(self, body, status="200 OK", extra=b""):
        self.send(b"HTTP/1.1 " + status.encode() + b"\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n" + extra + b"\r\n" +
                  (b"" if self.method == "HEAD" else body))

    def handle(self):
        while True:
            req = self.read_request()
            if req is None:
                return
            self.nreq += 1
            method, target, headers, body = req
            self.target = target
            self.method = method
            url = urllib.parse.urlsplit(target)
            q = dict(urllib.parse.parse_qsl(url.query))
            route = url.path
            if route.startswith("/pfx"):
                route = route[4:]
            fn = getattr(self, "r_" + route.strip("/").replace("-", "_"), None)
            if fn is None:
                self.reply(b"no such route " + route.encode(), "404 Not Found")
                continue
            if fn(method, q, headers, body) == "close":
                return

    # ---- well-formed answers ------------------------------------------------
    def r_endpoint(self, method, q, headers, body):
        self.reply(('{"uuid": "%s"}' % UUID).encode(),
                   extra=b"Content-Type: application/json\r\n")

    def r_whoami(self, method, q, headers, body):
        auth = headers.get("authorization", "-")
        self.reply(("conn=%d req=%d auth=%s path=%s" %
                    (self.conn_id, self.nreq, auth, q.get("x", ""))).encode())

    def r_headers(self, method, q, headers, body):
        """Some request header fields and the raw target, as text."""
        out = "method=%s one=%s two=%s auth=%s type=%s fwd=%s target=%s body=%d" % (
            method, headers.get("x-one", "-"), headers.get("x-two", "-"),
            headers.get("authorization", "-"), headers.get("content-type", "-"),
            headers.get("x-proxystore-forwarded", "-"), self.target, len(body))
        self.reply(out.encode(), extra=b"Content-Type: text/plain; charset=x\r\n")

    def r_cl(self, method, q, headers, body):
        self.reply(pattern(int(q.get("n", "100")), int(q.get("seed", "0"))))

    def r_echo(self, method, q, headers, body):
        info = "method=%s len=%s type=%s expect=%s " % (
            method, headers.get("content-length", "-"),
            headers.get("content-type", "-"), headers.get("expect", "-"))
        self.reply(info.encode() + body)

    def r_chunked(self, method, q, headers, body):
        data = pattern(int(q.get("n", "1000")))
        piece = int(q.get("piece", "100"))
        out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        for i in range(0, len(data), piece):
            c = data[i:i + piece]
            out += b"%X;ext=%d;name=\"v\"\r\n" % (len(c), i) + c + b"\r\n"
        out += b"0;last=1\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n"
        self.send(out)

    def r_split(self, method, q, headers, body):
        data = pattern(int(q.get("n", "3000")))
        out = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Pad: abc\r\n\r\n" % len(data)) + data
        step = int(q.get("step", "7"))
        for i in range(0, len(out), step):
            self.send(out[i:i + step])
            if i % (step * 16) == 0:
                time.sleep(0.001)

    def r_split_chunked(self, method, q, headers, body):
        data = pattern(int(q.get("n", "3000")))
        out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
        for i in range(0, len(data), 333):
            c = data[i:i + 333]
            out += b"%x\r\n" % len(c) + c + b"\r\n"
        out += b"0\r\n\r\n"
        for i in range(0, len(out), 5):
            self.send(out[i:i + 5])
            if i % 80 == 0:
                time.sleep(0.001)

    def r_close(self, method, q, headers, body):
        self.reply(b"closing conn=%d" % self.conn_id, extra=b"Connection: close\r\n")
        return "close"

    def r_http10(self, method, q, headers, body):
        self.send(b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\n" + pattern(int(q.get("n", "5000"))))
        return "close"

    def r_http10_keepalive(self, method, q, headers, body):
        b = b"conn=%d req=%d" % (self.conn_id, self.nreq)
        self.send(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n"
                  % len(b) + b)

    def r_http10_cl(self, method, q, headers, body):
        b = b"conn=%d req=%d" % (self.conn_id, self.nreq)
        self.send(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
        # HTTP/1.0 without keep-alive: the client must not reuse; we wait
        # for its close.

    def r_drop_after(self, method, q, headers, body):
        """Answer as if keeping the connection, then close it."""
        self.reply(b"conn=%d req=%d" % (self.conn_id, self.nreq))
        time.sleep(0.05)
        return "close"

    def r_continue(self, method, q, headers, body):
        self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.reply(b"after continue")

    def r_nocontent(self, method, q, headers, body):
        self.send(b"HTTP/1.1 204 No Content\r\n\r\n")

    def r_dup_cl_same(self, method, q, headers, body):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\nhello")

    def r_big_header(self, method, q, headers, body):
        pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(40))
        self.reply(b"ok", extra=pad)

    def r_status(self, method, q, headers, body):
        code = q.get("code", "500")
        self.reply(b"status body " + code.encode(), code + " Whatever")

    def r_huge_length(self, method, q, headers, body):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387904\r\n\r\nabc")
        return "close"

    # ---- malformed answers --------------------------------------------------
    def raw_close(self, data):
        self.send(data)
        return "close"

    def r_bad_status(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n")

    def r_bad_status2(self, method, q, headers, body):
        return self.raw_close(b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n")

    def r_bad_version(self, method, q, headers, body):
        return self.raw_close(b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")

    def r_bad_header(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n")

    def r_bad_header_name(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n")

    def r_bad_cl(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nhello")

    def r_neg_cl(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello")

    def r_cl_overflow(self, method, q, headers, body):
        return self.raw_close(
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nhello")

    def r_cl_conflict(self, method, q, headers, body):
        return self.raw_close(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")

    def r_bad_chunk(self, method, q, headers, body):
        return self.raw_close(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")

    def r_chunk_overflow(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"fffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")

    def r_chunk_nocrlf(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"5\r\nhelloXX5\r\nhello\r\n0\r\n\r\n")

    def r_huge_chunk(self, method, q, headers, body):
        # announces a chunk of 2^47 bytes, sends five, closes
        return self.raw_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"800000000000\r\nhello")

    def r_chunk_eof(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"10\r\nhello")

    def r_bad_te(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                              b"0\r\n\r\n")

    def r_huge_header(self, method, q, headers, body):
        pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(70))
        return self.raw_close(b"HTTP/1.1 200 OK\r\n" + pad + b"Content-Length: 0\r\n\r\n")

    def r_endless_header(self, method, q, headers, body):
        """A header line that never ends (must stop at the limit)."""
        try:
            self.send(b"HTTP/1.1 200 OK\r\nX-Long: ")
            for _ in range(200):
                self.send(b"b" * 1024)
        except OSError:
            pass
        return "close"

    def r_huge_chunk_line(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
                              b"e" * 70000 + b"\r\nhello\r\n0\r\n\r\n")

    def r_eof_mid(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")

    def r_eof_head(self, method, q, headers, body):
        return self.raw_close(b"HTTP/1.1 200 OK\r\nContent-Le")

    def r_stall(self, method, q, headers, body):
        time.sleep(float(q.get("s", "3")))
        return "close"

    def r_stall_mid(self, method, q, headers, body):
        self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        time.sleep(float(q.get("s", "3")))
        return "close"


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    port_file = sys.argv[1]
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
