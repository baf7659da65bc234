#!/usr/bin/env python3
"""Test HTTP origin for dragonfly-cpp tests (python3 stdlib only).

Serves the files under --root at /<name> over HTTP/1.1 with keep-alive, Range support
(bytes=a-b, bytes=a-, bytes=-n; 206 + Content-Range, 416 when unsatisfiable) and HEAD.

Behaviour switches, as query parameters of the request URL:
  nolength=1        no Content-Length; the body is delimited by closing the connection
  slow=BPS          throttle the body to about BPS bytes per second
  status=CODE       always answer CODE (small text body)
  fail_first=N      the first N requests for the path answer 503
  reset_after=B     the first request for the path sends B body bytes, then drops the connection
  ignore_range=1    ignore Range and always send the whole file with 200
  shift_range=K     answer 206 whose range starts K bytes later than asked (a broken server)
  redirect=1        302 to the same URL without the redirect parameter
  redirect_to=URL   307 to URL (e.g. another host, as registries do for object storage)
  echo=1            200 with a JSON object of the request headers as body (header names
                    lower-cased); the headers are also echoed back as X-Echo-<Name>
--tls-cert/--tls-key serve HTTPS instead of HTTP. --auth-prefix P: paths under P answer 401 with
WWW-Authenticate unless "Authorization: Bearer <--auth-token>" is sent. hang=S sleeps S seconds
before answering.
Counters: GET /_stats -> {"requests": {path: n}, "bytes": {path: n}, "total_bytes": n,
"authorized_requests": n (requests that carried an Authorization header)}
(body bytes actually sent, query stripped); POST (or GET) /_reset zeroes them and the
fail_first / reset_after state. Neither endpoint is counted.
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 4 << 20


class Stats:
    """Thread-safe per-path request and byte counters plus one-shot behaviour state."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = {}
            self.authorized = 0  # requests that carried an Authorization header
            self.bytes = {}
            self.total_bytes = 0
            self.failures = {}
            self.resets_done = set()

    def count_request(self, path):
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1

    def add_bytes(self, path, n):
        with self.lock:
            self.bytes[path] = self.bytes.get(path, 0) + n
            self.total_bytes += n

    def take_failure(self, path, limit):
        with self.lock:
            done = self.failures.get(path, 0)
            if done >= limit:
                return False
            self.failures[path] = done + 1
            return True

    def take_reset(self, path):
        with self.lock:
            if path in self.resets_done:
                return False
            self.resets_done.add(path)
            return True

    def snapshot(self):
        with self.lock:
            return {
                "requests": dict(self.requests),
                "bytes": dict(self.bytes),
                "total_bytes": self.total_bytes,
                "authorized_requests": self.authorized,
            }


def parse_range(header, size):
    """Returns None (no usable Range: send everything), "bad" (416) or (first, last)."""
    if not header:
        return None
    spec = header.strip()
    if not spec.lower().startswith("bytes="):
        return None
    spec = spec[6:].strip()
    if "," in spec:
        return None  # multiple ranges are not supported: whole file
    first, sep, last = spec.partition("-")
    if not sep:
        return "bad"
    try:
        first, last = first.strip(), last.strip()
        if not first:
            n = int(last)
            if n <= 0 or size == 0:
                return "bad"
            return (max(0, size - n), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return "bad"
    if start < 0 or end < start or start >= size:
        return "bad"
    return (start, min(end, size - 1))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "test-origin/1.0"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            rng = self.headers.get("Range") if getattr(self, "headers", None) else None
            sys.stderr.write("origin: %.3f %s %s%s\n" % (time.time(), self.address_string(),
                                                       fmt % args,
                                                       f" Range: {rng}" if rng else ""))

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass

    # --- plumbing -----------------------------------------------------------------

    def parsed(self):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        return url, path, query

    def drain_request_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            got = self.rfile.read(min(length, 65536))
            if not got:
                break
            length -= len(got)

    def send_body(self, status, body, content_type, path=None, head=False, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if head or not body:
            return
        if path is not None:
            self.server.stats.add_bytes(path, len(body))
        self.wfile.write(body)

    def send_status(self, status, path, head=False, extra=None):
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        body = ("%d %s\n" % (status, phrase)).encode()
        self.send_body(status, body, "text/plain", path, head, extra)

    # --- methods ------------------------------------------------------------------

    def do_GET(self):
        self.serve(head=False)

    def do_HEAD(self):
        self.serve(head=True)

    def do_POST(self):
        self.drain_request_body()
        _, path, _ = self.parsed()
        if path == "/_reset":
            self.server.stats.reset()
            self.send_body(200, b'{"ok": true}\n', "application/json")
        else:
            self.send_status(405, None)

    def serve(self, head):
        url, path, query = self.parsed()
        stats = self.server.stats
        if path == "/_stats":
            body = json.dumps(stats.snapshot()).encode()
            self.send_body(200, body, "application/json", head=head)
            return
        if path == "/_reset":
            stats.reset()
            self.send_body(200, b'{"ok": true}\n', "application/json", head=head)
            return
        stats.count_request(path)
        if self.headers.get("Authorization"):
            with stats.lock:
                stats.authorized += 1
        if "redirect_to" in query:
            self.send_status(307, path, head, {"Location": query["redirect_to"]})
            return
        auth_prefix = self.server.auth_prefix
        if auth_prefix and path.startswith(auth_prefix) and \
                self.headers.get("Authorization") != "Bearer " + self.server.auth_token:
            self.send_status(401, path, head, {
                "WWW-Authenticate": 'Bearer realm="http://127.0.0.1/token",service="test"'})
            return
        if "hang" in query:
            time.sleep(float(query["hang"]))
        if "status" in query:
            self.send_status(int(query["status"]), path, head)
            return
        if "fail_first" in query and stats.take_failure(path, int(query["fail_first"])):
            self.send_status(503, path, head)
            return
        if "redirect" in query:
            rest = [(k, v) for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True)
                    if k != "redirect"]
            location = url.path + ("?" + urllib.parse.urlencode(rest) if rest else "")
            self.send_status(302, path, head, {"Location": location})
            return
        if "echo" in query:
            echoed = {k.lower(): v for k, v in self.headers.items()}
            echoed["_accept_lines"] = self.headers.get_all("Accept") or []
            extra = {"X-Echo-" + k: v for k, v in self.headers.items()}
            body = json.dumps(echoed, sort_keys=True).encode()
            self.send_body(200, body, "application/json", path, head, extra)
            return
        self.serve_file(path, query, head)

    def serve_file(self, path, query, head):
        root = self.server.root
        full = os.path.realpath(os.path.join(root, path.lstrip("/")))
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            self.send_status(404, path, head)
            return
        try:
            f = open(full, "rb")
        except OSError:
            self.send_status(404, path, head)
            return
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            rng = None if "ignore_range" in query else parse_range(self.headers.get("Range"), size)
            if rng == "bad":
                self.send_status(416, path, head, {"Content-Range": "bytes */%d" % size})
                return
            nolength = query.get("nolength", "0") not in ("", "0")
            self.send_response(206 if rng else 200)
            if rng:
                first, last = rng
                shift = int(query.get("shift_range", "0"))
                if shift:
                    first = min(first + shift, last)
                self.send_header("Content-Range", "bytes %d-%d/%d" % (first, last, size))
            else:
                first, last = 0, size - 1
            count = last - first + 1
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", '"%x-%x"' % (size, st.st_mtime_ns))
            self.send_header("Last-Modified", self.date_time_string(int(st.st_mtime)))
            if nolength:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(count))
            self.end_headers()
            if head or count <= 0:
                return
            self.send_file(f, path, first, count, query)

    def send_file(self, f, path, offset, count, query):
        stats = self.server.stats
        drop = False
        if "reset_after" in query and stats.take_reset(path):
            count = min(count, int(query["reset_after"]))
            drop = True
        rate = int(query.get("slow", "0"))
        chunk = max(1, min(CHUNK, rate // 20)) if rate > 0 else CHUNK
        self.wfile.flush()
        sock = self.connection
        start_time = time.monotonic()
        sent_total = 0
        while sent_total < count:
            n = min(chunk, count - sent_total)
            # Counted before sending so a client that has every byte also sees it counted.
            stats.add_bytes(path, n)
            try:
                if self.server.tls:
                    f.seek(offset + sent_total)
                    data = f.read(min(n, 1 << 20))
                    sock.sendall(data)
                    sent = len(data)
                else:
                    sent = os.sendfile(sock.fileno(), f.fileno(), offset + sent_total, n)
            except OSError:
                stats.add_bytes(path, -n)
                self.close_connection = True
                return
            stats.add_bytes(path, sent - n)
            if sent == 0:
                self.close_connection = True
                return
            sent_total += sent
            if rate > 0:
                ahead = sent_total / rate - (time.monotonic() - start_time)
                if ahead > 0:
                    time.sleep(ahead)
        if drop:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True


class OriginServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port-file")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--auth-prefix", help="paths under this prefix need --auth-token")
    parser.add_argument("--auth-token", default="secret",
                        help="the Bearer token that --auth-prefix paths require")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate chain")
    parser.add_argument("--tls-key", help="private key of --tls-cert")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="shut down when the parent process goes away (for test harnesses)")
    args = parser.parse_args()

    if ":" in args.bind:
        OriginServer.address_family = socket.AF_INET6
    server = OriginServer((args.bind.strip("[]"), args.port), Handler)
    server.root = os.path.realpath(args.root)
    server.stats = Stats()
    server.verbose = args.verbose
    server.auth_prefix = args.auth_prefix
    server.auth_token = args.auth_token
    server.tls = bool(args.tls_cert)
    if server.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.exit_with_parent:
        parent = os.getppid()

        def watch_parent():
            while os.getppid() == parent:
                time.sleep(0.5)
            server.shutdown()

        threading.Thread(target=watch_parent, daemon=True).start()

    print("origin listening on %s:%d" % (args.bind, port), flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as out:
            out.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
