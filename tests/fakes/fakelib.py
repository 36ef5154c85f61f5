"""Shared machinery of the etlkit fake API servers (Python 3 standard library only).

A fake server is a ThreadingHTTPServer whose handler splits requests in two:

* control endpoints, never counted, never authenticated:
    GET  /_health            200 {"ok": true}
    GET  /_control           the active knobs
    POST /_control  JSON     merge knobs into the active set ({"knob": null} removes one);
                             {"reload": true} re-reads the dataset, {"data": "DIR"} switches to DIR
    GET  /_stats             {"total", "by_endpoint", "by_status", "by_operation", "requests": [...]}
    POST /_reset             zero the counters and remove every knob (the dataset stays)
* API endpoints, implemented by the subclass (FakeServer.route), wrapped by the fault knobs.

Fault knobs that take a window ({"after": N, "count": K, "endpoint": "substring"}) count the
API requests that match `endpoint` (a substring of "METHOD /path operation", default: all) from
the moment the knob is set (or from server start for command-line knobs): requests N+1 .. N+K
get the fault.  "count" defaults to 1; "count": null means "forever".

Generic knobs handled here:
    slow_ms: N | {"ms": N, "after", "count", "endpoint"}      delay the response
    errors_5xx: {"after", "count", "status", "endpoint"}      a provider-shaped 5xx
    html_error: {"after", "count", "status", "endpoint"}      an HTML error page (default 502)
    truncate: {"after", "count", "endpoint"}                  HTTP 200 whose JSON body is cut in half
    page_size: N                                              server-side cap of every page
    drop_connection: {"after", "count", "endpoint"}           close the socket without answering
    hostile: {"mode", "after", "count", "endpoint", ...}      a hostile server (below)
Provider-specific knobs are declared by the subclass (fault_knobs).

The hostile knob answers the requests of its window the way a broken or malicious server would:
    "huge"       HTTP 200, a valid JSON body of "bytes" bytes (default 300 MB) with its
                 Content-Length, sent as fast as the client reads
    "endless"    HTTP 200, chunked, a JSON array that never ends (stops after "bytes",
                 default 16 GiB, or when the client hangs up)
    "gzip_bomb"  HTTP 200, Content-Encoding: gzip: "bytes" (default 1 GiB) of valid JSON that
                 compress to about 1/1000 of that
    "trickle"    the real answer, one byte every "interval_ms" (default 1000)
    "redirect"   "status" (default 302) to "location" (default http://127.0.0.1:9/steal),
                 e.g. another host, with the provider's headers and no body
    "absurd_429" 429 with the provider's error body and "headers" (a list of [name, value];
                 default: an out-of-range Retry-After, a negative X-RateLimit-Remaining, a
                 NearLimit of garbage, and one 60 KB header line)
The request record gets "sent": the body bytes written before the client stopped reading.

The request log (--log FILE) has one line per API request: time, method, path+query, status,
whether an Authorization header was present, elapsed ms.  Header values are never logged.
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

MAX_RECORDED_REQUESTS = 20000


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso_utc(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_json(path, default=None):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return default


def dumps(obj):
    # ensure_ascii=False: real services send UTF-8, including 4-byte characters, unescaped.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def make_token(kind, offset, fingerprint):
    """An opaque page token: base64url of a small JSON document, bound to the query."""
    raw = json.dumps({"k": kind, "o": offset, "f": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_token(token, kind, fingerprint):
    """Return the offset stored in a token, or None when it is invalid / for another query."""
    try:
        pad = "=" * (-len(token) % 4)
        doc = json.loads(base64.urlsafe_b64decode(token + pad).decode())
        if doc.get("k") != kind or doc.get("f") != fingerprint:
            return None
        off = int(doc["o"])
        return off if off >= 0 else None
    except Exception:  # noqa: BLE001 - any garbage is an invalid token
        return None


def fingerprint(*parts):
    h = hashlib.sha1()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


class Request:
    def __init__(self, handler, method, body):
        self.handler = handler
        self.method = method
        parsed = urllib.parse.urlsplit(handler.path)
        self.path = urllib.parse.unquote(parsed.path)
        self.raw_query = parsed.query
        self.query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.headers = handler.headers
        self.body = body
        self.operation = ""          # filled by providers (GraphQL operation name)
        self.endpoint = f"{method} {self.path}"   # normalised by the router
        self._json = None
        self._json_error = None
        self._truncate = False
        self._ticks = {}
        self.host = handler.headers.get("Host") or "%s:%d" % handler.server.server_address[:2]

    def arg(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def args(self, name):
        return self.query.get(name, [])

    def int_arg(self, name, default):
        v = self.arg(name)
        if v is None or v == "":
            return default
        try:
            return int(v)
        except ValueError:
            raise ApiError(400, "invalid_integer", name, v)

    def json(self):
        """The request body as JSON; raises ApiError(400) when it is not valid JSON."""
        if self._json is None and self._json_error is None:
            try:
                self._json = json.loads(self.body.decode("utf-8")) if self.body else {}
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                self._json_error = str(e)
        if self._json_error is not None:
            raise ApiError(400, "invalid_json", self._json_error)
        return self._json

    @property
    def base_url(self):
        return "http://" + self.host

    def auth_header(self):
        return self.headers.get("Authorization")


class Response:
    def __init__(self, status=200, body=b"", content_type="application/json;charset=UTF-8",
                 headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else dumps(body)
        self.headers = [("Content-Type", content_type)] if content_type else []
        if headers:
            self.headers.extend(headers)
        self.drop = False
        self.stream = None    # callable(write) sending the body itself (hostile answers)

    @classmethod
    def json(cls, obj, status=200, headers=None):
        return cls(status, dumps(obj), headers=headers)

    def add_header(self, name, value):
        self.headers.append((name, str(value)))


class ApiError(Exception):
    """Raised by route handlers; the provider turns it into its own error shape."""

    def __init__(self, status, code, *details):
        super().__init__(code)
        self.status = status
        self.code = code
        self.details = details


class Window:
    """A fault window: fires for matching requests number after+1 .. after+count."""

    def __init__(self, spec, default_count=1):
        if not isinstance(spec, dict):
            spec = {}
        self.spec = spec
        self.after = int(spec.get("after", 0) or 0)
        if "count" in spec and spec["count"] is None:
            self.count = None
        else:
            self.count = int(spec.get("count", default_count))
        self.endpoint = spec.get("endpoint")
        self.seen = 0

    def matches(self, req):
        if not self.endpoint:
            return True
        hay = f"{req.method} {req.path} {req.operation}"
        return self.endpoint in hay

    def tick(self, req):
        """Count the request if it matches; return True if it falls in the window."""
        if not self.matches(req):
            return False
        self.seen += 1
        n = self.seen
        if n <= self.after:
            return False
        return self.count is None or n <= self.after + self.count


class FakeServer:
    """Base class: dataset, knobs, stats, logging.  Subclasses implement route()."""

    name = "fake"
    # knobs with a window, evaluated in this order before the route runs; the first that fires
    # answers the request (the subclass turns it into a response via fault_response()).
    fault_knobs = ("errors_5xx", "html_error", "drop_connection")
    # knobs that take a plain value
    value_knobs = ("page_size",)

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.data_dir = os.path.abspath(args.data) if args.data else None
        self.knobs = {}
        self.windows = {}
        self.started = utcnow()
        self.log_file = open(args.log, "a", encoding="utf-8", buffering=1) if args.log else None
        self._reset_stats()
        self.load_data()
        for k, v in (args.knobs or {}).items():
            self.set_knob(k, v)

    # ----- dataset -------------------------------------------------------------------------
    def load_data(self):
        raise NotImplementedError

    # ----- knobs ---------------------------------------------------------------------------
    def set_knob(self, name, value):
        with self.lock:
            if value is None:
                self.knobs.pop(name, None)
                self.windows.pop(name, None)
                return
            self.knobs[name] = value
            if name == "slow_ms":
                spec = value if isinstance(value, dict) else {"ms": value, "count": None}
                self.windows[name] = Window(spec, default_count=None)
            elif isinstance(value, dict) and (name in self.fault_knobs or
                                              name in ("truncate", "hostile")):
                self.windows[name] = Window(value)
            else:
                self.windows.pop(name, None)

    def knob(self, name, default=None):
        return self.knobs.get(name, default)

    def page_cap(self, n):
        ps = self.knobs.get("page_size")
        if ps:
            n = min(n, int(ps))
        return max(1, n)

    # ----- stats ---------------------------------------------------------------------------
    def _reset_stats(self):
        self.stats = {"total": 0, "by_endpoint": {}, "by_status": {}, "by_operation": {},
                      "requests": [], "auth_missing": 0}

    def record(self, req, status, auth_present, elapsed_ms, extra=None):
        with self.lock:
            st = self.stats
            st["by_endpoint"][req.endpoint] = st["by_endpoint"].get(req.endpoint, 0) + 1
            st["by_status"][str(status)] = st["by_status"].get(str(status), 0) + 1
            if req.operation:
                st["by_operation"][req.operation] = st["by_operation"].get(req.operation, 0) + 1
            if not auth_present:
                st["auth_missing"] += 1
            if len(st["requests"]) < MAX_RECORDED_REQUESTS:
                entry = {"n": st["total"], "method": req.method, "path": req.path,
                         "query": req.raw_query, "endpoint": req.endpoint, "status": status,
                         "auth": auth_present, "ms": elapsed_ms}
                if req.operation:
                    entry["operation"] = req.operation
                if extra:
                    entry.update(extra)
                st["requests"].append(entry)
        if self.log_file:
            q = ("?" + req.raw_query) if req.raw_query else ""
            line = "%s %s %s%s %d auth=%s %dms%s\n" % (
                iso_utc(utcnow()), req.method, req.path, q, status,
                "yes" if auth_present else "no", elapsed_ms,
                (" op=" + req.operation) if req.operation else "")
            with self.lock:
                self.log_file.write(line)

    # ----- control endpoints ---------------------------------------------------------------
    def control(self, req):
        if req.path == "/_health":
            return Response.json({"ok": True, "name": self.name, "data": self.data_dir})
        if req.path == "/_stats":
            with self.lock:
                return Response.json(json.loads(json.dumps(self.stats)))
        if req.path == "/_reset" and req.method == "POST":
            with self.lock:
                self.knobs.clear()
                self.windows.clear()
                self._reset_stats()
                self.on_reset()
            return Response.json({"ok": True})
        if req.path == "/_control":
            if req.method == "GET":
                with self.lock:
                    return Response.json(self.knobs)
            try:
                doc = req.json()
            except ApiError as e:
                return Response.json({"error": "invalid JSON: %s" % e.details[0]}, 400)
            if not isinstance(doc, dict):
                return Response.json({"error": "expected a JSON object"}, 400)
            with self.lock:
                if "data" in doc:
                    self.data_dir = os.path.abspath(doc.pop("data"))
                    doc["reload"] = True
                if doc.pop("reload", False):
                    try:
                        self.load_data()
                    except Exception as e:  # noqa: BLE001
                        return Response.json({"error": "reload failed: %s" % e}, 500)
                for k, v in doc.items():
                    self.set_knob(k, v)
                return Response.json({"ok": True, "knobs": self.knobs})
        return Response.json({"error": "unknown control endpoint"}, 404)

    def on_reset(self):
        pass

    # ----- the request pipeline ------------------------------------------------------------
    def handle(self, handler, method, body):
        t0 = time.monotonic()
        req = Request(handler, method, body)
        if req.path.startswith("/_"):
            return req, self.control(req), None
        with self.lock:
            self.stats["total"] += 1
        extra = {}
        try:
            self.classify(req)   # sets req.endpoint / req.operation
        except ApiError as e:
            resp = self.error_response(req, e)
            return req, resp, (t0, False, extra)
        auth_present = bool(req.auth_header())
        resp = self.check_auth(req)
        if resp is None:
            resp = self.apply_faults(req)
        if resp is None:
            try:
                resp = self.route(req, extra)
            except ApiError as e:
                resp = self.error_response(req, e)
            resp = self.post_faults(req, resp)
        return req, resp, (t0, auth_present, extra)

    def apply_faults(self, req):
        with self.lock:
            ticks = {name: w.tick(req) for name, w in self.windows.items()}
            delay = 0
            if ticks.get("slow_ms"):
                delay = int(self.windows["slow_ms"].spec.get("ms", 0))
            fired = next((n for n in self.fault_knobs if ticks.get(n)), None)
            spec = self.knobs.get(fired) if fired else None
            req._truncate = bool(ticks.get("truncate"))
            req._ticks = ticks
            hostile = dict(self.knobs["hostile"]) if ticks.get("hostile") else None
        req._trickle = None
        if hostile:
            if hostile.get("mode") == "trickle":
                req._trickle = hostile
            else:
                return hostile_response(hostile, self.rate_limit_response(req))
        if delay:
            time.sleep(delay / 1000.0)
        if fired:
            if fired == "drop_connection":
                r = Response(0)
                r.drop = True
                return r
            if fired == "html_error":
                status = int(spec.get("status", 502))
                body = ("<!DOCTYPE html>\n<html><head><title>%d Bad Gateway</title></head>\n"
                        "<body><h1>%d Bad Gateway</h1><p>The server received an invalid "
                        "response from an upstream server.</p></body></html>\n"
                        % (status, status)).encode()
                return Response(status, body, content_type="text/html; charset=utf-8")
            return self.fault_response(fired, spec, req)
        return None

    def post_faults(self, req, resp):
        if getattr(req, "_truncate", False) and resp.status == 200 and len(resp.body) > 1:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        if getattr(req, "_trickle", None):
            trickle(resp, int(req._trickle.get("interval_ms", 1000)))
        return resp

    # ----- to be provided by the subclass ---------------------------------------------------
    def classify(self, req):
        pass

    def check_auth(self, req):
        return None

    def fault_response(self, name, spec, req):
        return Response.json({"error": name}, int(spec.get("status", 503)))

    def rate_limit_response(self, req):
        """The provider's 429 (the hostile knob's "absurd_429" replaces its headers)."""
        return self.fault_response("rate_limit", {}, req)

    def error_response(self, req, err):
        return Response.json({"error": err.code, "details": list(err.details)}, err.status)

    def route(self, req, extra):
        raise NotImplementedError


# ----- hostile answers ------------------------------------------------------------------------

_gzip_bombs = {}
_bomb_lock = threading.Lock()


def gzip_bomb(size):
    """gzip of a JSON document of `size` bytes (mostly spaces), built once per size."""
    import zlib
    with _bomb_lock:
        if size not in _gzip_bombs:
            head, tail = b'{"pad":"', b'"}'
            z = zlib.compressobj(9, zlib.DEFLATED, 31)
            out = [z.compress(head)]
            left = size - len(head) - len(tail)
            block = b" " * (1 << 20)
            while left > 0:
                n = min(left, len(block))
                out.append(z.compress(block[:n]))
                left -= n
            out.append(z.compress(tail))
            out.append(z.flush())
            _gzip_bombs[size] = b"".join(out)
        return _gzip_bombs[size]


def hostile_response(spec, provider_429):
    mode = spec.get("mode")
    if mode == "huge":
        size = int(spec.get("bytes", 300 * 10**6))
        r = Response(200, b"")
        r.add_header("Content-Length", size)

        def send(write):
            head, tail = b'{"pad":"', b'"}'
            write(head)
            left = size - len(head) - len(tail)
            block = b"x" * 65536
            while left > 0:
                n = min(left, len(block))
                write(block[:n])
                left -= n
            write(tail)
        r.stream = send
        return r
    if mode == "endless":
        limit = int(spec.get("bytes", 16 << 30))
        r = Response(200, b"")
        r.add_header("Transfer-Encoding", "chunked")

        def send(write):
            item = b'{"id":"10001","key":"A-1"},' * 2000
            chunk = b"%x\r\n%s\r\n" % (len(item), item)
            write(b'1\r\n[\r\n')
            sent = 1
            while sent < limit:
                write(chunk)
                sent += len(item)
        r.stream = send
        return r
    if mode == "gzip_bomb":
        body = gzip_bomb(int(spec.get("bytes", 1 << 30)))
        r = Response(200, body)
        r.add_header("Content-Encoding", "gzip")
        return r
    if mode == "redirect":
        r = Response(int(spec.get("status", 302)), b"", content_type=None)
        r.add_header("Location", spec.get("location", "http://127.0.0.1:9/steal"))
        return r
    if mode == "absurd_429":
        r = provider_429
        r.status = 429
        r.headers = [(k, v) for k, v in r.headers
                     if k.lower() not in ("retry-after", "x-ratelimit-reset",
                                          "x-ratelimit-remaining")]
        headers = spec.get("headers")
        if headers is None:
            headers = [["Retry-After", "99999999999999999999999"],
                       ["X-RateLimit-Remaining", "-5"],
                       ["X-RateLimit-NearLimit", "\x1b[31mtrue"],
                       ["X-Padding", "a" * 60000]]
        for k, v in headers:
            r.add_header(k, v)
        return r
    return Response.json({"error": "unknown hostile mode %r" % mode}, 500)


def trickle(resp, interval_ms):
    body = resp.body
    resp.body = b""
    resp.add_header("Content-Length", len(body))

    def send(write):
        for i in range(len(body)):
            write(body[i:i + 1])
            time.sleep(interval_ms / 1000.0)
    resp.stream = send


def make_handler(server_impl):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = server_impl.name
        sys_version = ""

        def log_message(self, fmt, *args):  # silence the default stderr access log
            pass

        def _read_body(self):
            te = (self.headers.get("Transfer-Encoding") or "").lower()
            if "chunked" in te:
                chunks = []
                while True:
                    line = self.rfile.readline(65537).strip()
                    size = int(line.split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline(65537).strip():
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(3)
                return b"".join(chunks)
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n > 0 else b""

        def _do(self, method):
            try:
                body = self._read_body()
            except (ValueError, OSError):
                self.close_connection = True
                return
            try:
                req, resp, meta = server_impl.handle(self, method, body)
            except Exception as e:  # noqa: BLE001 - a fake must never die on a request
                import traceback
                traceback.print_exc()
                resp = Response.json({"error": "fake server bug: %s" % e}, 500)
                req, meta = None, None
            if resp.drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                if req is not None and meta is not None:
                    t0, auth_present, extra = meta
                    server_impl.record(req, 0, auth_present, int((time.monotonic() - t0) * 1000),
                                       extra)
                return
            if resp.stream:
                sent = self._send_stream(resp)
                if meta is not None:
                    meta[2]["sent"] = sent
            else:
                try:
                    self.send_response(resp.status)
                    for k, v in resp.headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(resp.body)))
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(resp.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
            if req is not None and meta is not None:
                t0, auth_present, extra = meta
                server_impl.record(req, resp.status, auth_present,
                                   int((time.monotonic() - t0) * 1000), extra)

        def _send_stream(self, resp):
            """Headers as given, then the body from resp.stream; bytes of body sent."""
            sent = [0]

            def write(b):
                self.wfile.write(b)
                self.wfile.flush()
                sent[0] += len(b)
            self.close_connection = True
            try:
                self.send_response(resp.status)
                for k, v in resp.headers:
                    self.send_header(k, v)
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.flush()
                resp.stream(write)
            except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
                pass
            return sent[0]

        def do_GET(self):
            self._do("GET")

        def do_POST(self):
            self._do("POST")

        def do_PUT(self):
            self._do("PUT")

        def do_DELETE(self):
            self._do("DELETE")

        def do_HEAD(self):
            self._do("HEAD")

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="TCP port (0: let the kernel choose)")
    p.add_argument("--bind", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port-file", help="write the bound port to this file once listening")
    p.add_argument("--data", help="dataset directory")
    p.add_argument("--log", help="append one line per API request to this file")
    p.add_argument("--knobs", type=json.loads, default={},
                   help='initial knobs as a JSON object, e.g. \'{"page_size": 10}\'')
    p.add_argument("--watch-pid", type=int, default=0,
                   help="exit when this process is gone (a safety net for test runs)")
    return p


def serve(server_impl, args):
    httpd = Server((args.bind, args.port), make_handler(server_impl))
    port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    def stop(*_):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)

    if args.watch_pid:
        def watch():
            while True:
                time.sleep(1)
                try:
                    os.kill(args.watch_pid, 0)
                except ProcessLookupError:
                    stop()
                    return
                except PermissionError:
                    pass
        threading.Thread(target=watch, daemon=True).start()

    sys.stderr.write("%s listening on http://%s:%d data=%s\n"
                     % (server_impl.name, args.bind, port, server_impl.data_dir))
    sys.stderr.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
