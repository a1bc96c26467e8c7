"""What the Jira and Azure Boards stand-ins share: a loopback HTTP server that records requests.

stdlib `http.server` (HTTP/1.1 keep-alive, one thread per connection) on 127.0.0.1. A
subclass answers through `route(request) -> Answer`; this base records every request
(method, path, query, headers, body, and whether the route said it changes anything),
checks authentication through `authorized(request)`, adds latency, and injects faults
(`fail(...)`: a status with the service's error body, optionally with Retry-After) before
the route sees the request. Nothing is written to disk.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # decoded, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text, or None
    content_type: str
    write: bool = False  # the route changed (or would have changed) something
    status: int = 0

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-serialisable, or bytes
    headers: dict[str, str] = field(default_factory=dict)
    write: bool = False


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int
    method: str | None
    times: int | None
    retry_after: str | None
    after: int = 0
    seen: int = 0


class RestStandIn:
    """Base of a vendor stand-in. Use as a context manager or start()/stop()."""

    content_type = "application/json; charset=utf-8"

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self._requests: list[RecordedRequest] = []
        self._lock = threading.RLock()  # guards the recorded requests and the subclass's data
        self._faults: list[_Fault] = []
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, port: int = 0) -> RestStandIn:
        self._server = _Server(("127.0.0.1", port), _Handler, self)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> RestStandIn:
        return self.start()

    def __exit__(self, *args: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- faults -----------------------------------------------------------------------------------

    def fail(self, path_pattern: str, status: int, *, method: str | None = None, times: int | None = None,
             retry_after: float | str | None = None, after: int = 0) -> None:
        """Answer requests whose path matches with `status` and the service's error body
        (`times` times, or always; after `after` matching requests were answered normally)."""
        ra = None if retry_after is None else (str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after))
        with self._lock:
            self._faults.append(_Fault(re.compile(path_pattern), status, method, times, ra, after))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- what was asked ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.write]

    @property
    def reads(self) -> list[RecordedRequest]:
        return [r for r in self.requests if not r.write]

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- for subclasses ---------------------------------------------------------------------------

    def route(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError

    def authorized(self, request: RecordedRequest) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Answer:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Answer:
        """The service's error body for `status`."""
        raise NotImplementedError

    def is_write(self, request: RecordedRequest) -> bool:
        """Whether the request would change something (so a refused write still counts as one)."""
        return request.method not in ("GET", "HEAD", "OPTIONS")

    # -- serving ----------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type") or ""
        body: Any = None
        if raw:
            text = raw.decode("utf-8", "replace")
            try:
                body = json.loads(text)
            except ValueError:
                body = text
        request = RecordedRequest(handler.command, unquote(split.path), parse_qs(split.query, keep_blank_values=True),
                                  {k: v for k, v in handler.headers.items()}, body, content_type)
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            write = self.is_write(request)
            answer = self._fault_for(request)
            if answer is None:
                answer = self.route(request) if self.authorized(request) else self.unauthorized()
            self._requests.append(RecordedRequest(request.method, request.path, request.query, request.headers,
                                                  request.body, content_type, write, answer.status))
        self._send(handler, answer)

    def _fault_for(self, request: RecordedRequest) -> Answer | None:
        for fault in self._faults:
            if fault.method not in (None, request.method) or not fault.pattern.search(request.path):
                continue
            if fault.seen < fault.after:
                fault.seen += 1
                return None
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            answer = self.error(fault.status, f"Injected {fault.status} for {request.path}.")
            if fault.retry_after is not None:
                answer.headers["Retry-After"] = fault.retry_after
            return answer
        return None

    def _send(self, handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        if isinstance(answer.body, bytes):
            data = answer.body
        elif answer.body is None:
            data = b""
        else:
            data = json.dumps(answer.body).encode()
        handler.send_response(answer.status)
        headers = {"Content-Type": self.content_type, **answer.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if data and handler.command != "HEAD":
            handler.wfile.write(data)


def serve_by_hand(server: RestStandIn, describe: Callable[[RestStandIn], list[str]], port: int) -> None:
    """Start `server` on `port`, print `describe(server)` (where it is, the environment that points
    amlaudit at it), serve until Ctrl-C, then say how many reads and writes it received."""
    server.start(port)
    try:
        print("\n".join(describe(server)), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print(f"# {len(server.reads)} reads, {len(server.writes)} writes received")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    wbufsize = 1 << 16
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.standin._serve(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: tests read `requests` instead."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], standin: RestStandIn) -> None:
        super().__init__(address, handler)
        self.standin = standin

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            super().finish_request(request, client_address)
        except (ConnectionError, TimeoutError):
            pass
