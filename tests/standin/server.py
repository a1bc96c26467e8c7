"""A local HTTPS stand-in for Azure Resource Manager, serving an estate given as a snapshot.

stdlib `http.server` with one thread per connection (HTTP/1.1 keep-alive, TLS with a
trustme certificate for 127.0.0.1). It answers GETs the way Resource Manager does
(see routes.py), pages lists with `nextLink` (`page_size` items a page), requires
`api-version` and the bearer token the stand-in `az` issues for this endpoint, and
injects faults and latency per path. Every request is recorded; anything but GET is
answered 405 and recorded too, so a test can prove the client only read.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import trustme

from tests.standin.faults import Delay, Fault, FaultPlan, NextLinkBase, compile_pattern
from tests.standin.routes import Collection, Document, EstateRoutes, Missing

TOKEN_PREFIX = "standin|"  # the stand-in `az` issues "standin|<resource>"; see tests/standin/az


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # decoded, without the query
    query: dict[str, list[str]]


class StandIn:
    """One stand-in Resource Manager. Use as a context manager or call start()/stop()."""

    def __init__(self, estate: dict[str, Any], *, ca: trustme.CA | None = None, page_size: int | None = None,
                 latency: float = 0.0) -> None:
        self.routes = EstateRoutes(estate)
        self.ca = ca or trustme.CA()
        self.page_size = page_size
        self.latency = latency
        self.plan = FaultPlan()
        # What the estate's own collection could not read fails here the same way, every time.
        for error in estate.get("errors") or []:
            scope = urlsplit(error["scope"]).path if "://" in error["scope"] else error["scope"]
            if error.get("status"):
                self.fail(f"^{re.escape(scope.split('?', 1)[0].rstrip('/'))}$", error["status"], code=error.get("code"),
                          message=error.get("message"))
        # Set by stop(): requests held by `hang` end then instead of outliving the stand-in.
        self._released = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> StandIn:
        self._released.clear()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = _TlsServer(("127.0.0.1", 0), _Handler, context, self)
        # A short poll keeps stop() quick (serve_forever checks for shutdown once per interval).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="arm-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *args: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token(self) -> str:
        """The bearer token a client must present: what the stand-in `az` issues for this endpoint."""
        return f"{TOKEN_PREFIX}{self.url}"

    # -- faults -------------------------------------------------------------------------------

    def fail(self, path_pattern: str, status: int, *, times: int | None = None, code: str | None = None,
             message: str | None = None, retry_after: float | None = None, after: int = 0) -> None:
        """Answer matching paths with `status` (`times` times, or always, after `after` normal answers)
        and an ARM error body."""
        self.plan.add_fault(Fault(compile_pattern(path_pattern), status, code, message, retry_after, times=times,
                                  after=after))

    def malform(self, path_pattern: str, *, times: int | None = None, after: int = 0, body: bytes | None = None) -> None:
        """Answer matching paths with 200 and a body that is not valid JSON, or `body` if given
        (after `after` normal answers)."""
        extra = {} if body is None else {"body": body}
        self.plan.add_fault(Fault(compile_pattern(path_pattern), malformed=True, times=times, after=after, **extra))

    def drop(self, path_pattern: str, *, times: int | None = None) -> None:
        """Close the connection of matching requests without answering (a reset mid-request)."""
        self.plan.add_fault(Fault(compile_pattern(path_pattern), times=times, drop=True))

    def hang(self, path_pattern: str, *, seconds: float = 10.0, times: int | None = None, after: int = 0) -> None:
        """Hold matching requests (after `after` normal answers): read them, then send nothing for `seconds`
        (a service that accepted the call and went quiet), then answer normally. A client without a working
        read timeout therefore gets its answer late and notices nothing, which a test can tell from a timeout."""
        self.plan.add_fault(Fault(compile_pattern(path_pattern), times=times, after=after, hold=seconds))

    def redirect(self, path_pattern: str, base_url: str, *, status: int = 307, times: int | None = None) -> None:
        """Answer matching paths with a redirect to the same path and query at `base_url` (another host)."""
        self.plan.add_fault(Fault(compile_pattern(path_pattern), status, times=times, location=base_url.rstrip("/")))

    def loop_next_link(self, path_pattern: str, *, limit: int = 100) -> None:
        """Pages of matching lists carry a nextLink to themselves (a list that never ends), `limit` times."""
        self.plan.add_next_link_loop(compile_pattern(path_pattern), limit)

    def next_link_at(self, path_pattern: str, base_url: str, *, after: int = 0) -> None:
        """Pages of matching lists carry their nextLink at `base_url` once `after` pages had the stand-in's own."""
        self.plan.add_next_link_base(NextLinkBase(compile_pattern(path_pattern), base_url.rstrip("/"), after=after))

    def delay(self, path_pattern: str, seconds: float) -> None:
        """Add `seconds` of latency to matching paths (on top of the global `latency`)."""
        self.plan.add_delay(Delay(compile_pattern(path_pattern), seconds))

    # -- what was asked ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._requests_lock:
            return list(self._requests)

    def count(self, method: str | None = None, path_pattern: str | None = None) -> int:
        pattern = compile_pattern(path_pattern) if path_pattern is not None else None
        return sum(1 for r in self.requests
                   if (method is None or r.method == method) and (pattern is None or pattern.search(r.path)))

    # -- serving ------------------------------------------------------------------------------

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        method = handler.command
        with self._requests_lock:
            self._requests.append(RecordedRequest(method, path, query))
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)  # keep the connection in step
        pause = self.latency + self.plan.delay_for(path)
        if pause:
            time.sleep(pause)
        if method != "GET":
            _send(handler, 405, _error("MethodNotAllowed", f"The stand-in serves GET only, not {method}."))
            return
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            _send(handler, 401, _error("AuthenticationFailed", "Missing or wrong bearer token for this endpoint."))
            return
        api_version = query.get("api-version", [""])[0]
        if not api_version:
            _send(handler, 400, _error("MissingApiVersionParameter", "The api-version query parameter is required."))
            return
        fault = self.plan.fault_for(path)
        if fault is not None and fault.hold is not None:
            self._released.wait(fault.hold)
            fault = None  # then the normal answer (to a client that may have given up and closed)
        if fault is not None and fault.drop:
            handler.close_connection = True
            return
        if fault is not None and fault.malformed:
            _send_raw(handler, 200, fault.body)
            return
        if fault is not None and fault.location is not None:
            target = fault.location + quote(path) + (f"?{split.query}" if split.query else "")
            _send(handler, fault.status, _error("Moved", f"Moved to {target}."), {"Location": target})
            return
        if fault is not None:
            headers = {"Retry-After": _seconds(fault.retry_after)} if fault.retry_after is not None else {}
            code = fault.code or {401: "AuthenticationFailed", 403: "AuthorizationFailed", 404: "ResourceNotFound",
                                  429: "TooManyRequests"}.get(fault.status, "InternalServerError")
            _send(handler, fault.status, _error(code, fault.message or f"Injected {fault.status} for {path}."), headers)
            return
        answer = self.routes.resolve(path)
        if isinstance(answer, Missing):
            _send(handler, answer.status, _error(answer.code, answer.message))
        elif isinstance(answer, Document):
            _send(handler, 200, answer.body)
        else:
            _send(handler, 200, self._page(answer, path, api_version, query))

    def _page(self, collection: Collection, path: str, api_version: str, query: dict[str, list[str]]) -> dict[str, Any]:
        start = int(query.get("$skiptoken", ["0"])[0])
        size = self.page_size or max(len(collection.items), 1)
        page: dict[str, Any] = {"value": collection.items[start:start + size]}
        if start + size < len(collection.items):
            base = self.plan.next_link_base_for(path) or self.url
            following = start if self.plan.next_link_loops_at(path) else start + size
            page["nextLink"] = f"{base}{quote(path)}?api-version={api_version}&$skiptoken={following}"
        return page


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _send(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    _send_raw(handler, status, json.dumps(body).encode(), headers)


def _send_raw(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("x-ms-request-id", str(uuid.uuid4()))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one TLS handshake per connection, as against ARM
    timeout = 30  # an idle keep-alive connection frees its thread
    wbufsize = 1 << 16  # headers and body leave in one write (http.server flushes after each request)
    server: _TlsServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.standin._respond(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Quiet: tests read `StandIn.requests` instead."""


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext,
                 standin: StandIn) -> None:
        super().__init__(address, handler)
        self.context = context
        self.standin = standin

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, on the connection's own thread, not in the accept loop.
        # No Nagle: TLS 1.3 session tickets and the response are separate small writes, and with
        # Nagle and delayed ACKs each new connection would stall ~40 ms on loopback.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, ConnectionError, TimeoutError):
            pass
        finally:
            tls.close()
