"""Two ways to reach a fake: in-process through ``responses``, or a real werkzeug HTTP server.

Both transports run the same WSGI app; they differ only in how a "no response" fault reaches
the client. In-process, the callback raises the exception ``requests`` would raise
(``ConnectionError`` for a refused connection, ``ReadTimeout`` for a timeout or a lost response).
Over real HTTP, the server holds the request for ``hold_seconds`` and then drops the connection,
so a client whose timeout is shorter sees a genuine read timeout.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests
import responses
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import EnvironBuilder

from harness.fakes.base import (
    ENV_ADDRESS,
    ENV_ATTRIBUTION,
    ENV_FAULT,
    ENV_LATENCY_MS,
    Attribution,
)
from harness.fakes.faults import Fault

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _raise_for(fault: Fault, url: str) -> None:
    if fault.mode == "connection_refused":
        raise requests.exceptions.ConnectionError(
            f"fake: connection refused by fault rule {fault.rule} ({url})"
        )
    what = (
        "response lost after the request was applied"
        if fault.mode == "lost_response"
        else ("read timed out")
    )
    raise requests.exceptions.ReadTimeout(f"fake: {what} (fault rule {fault.rule}, {url})")


def _call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app on *this* environ (the app marks faults in it) and buffer the answer."""
    captured: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured[:] = [status, headers]
        return lambda data: None

    app_iter = app(environ, start_response)
    try:
        body = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    return captured[0], list(captured[1]), body


DEFAULT_PORTS = {"http": 80, "https": 443}


def _base_pattern(base_url: str, addresses: Iterable[str]) -> re.Pattern[str]:
    """``base_url`` itself, or with its host replaced by one of ``addresses`` (the port the URL
    names, or the scheme's default, written or not): where a client that pinned the address
    it resolved sends the request."""
    parts = urlsplit(base_url)
    alternatives = [re.escape(base_url)]
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    ports = f"(?::{port})?" if port == DEFAULT_PORTS[parts.scheme] else f":{port}"
    for address in addresses:
        host = f"[{address}]" if ":" in address else address
        alternatives.append(
            f"{re.escape(parts.scheme)}://{re.escape(host)}{ports}{re.escape(parts.path)}"
        )
    return re.compile("(?:" + "|".join(alternatives) + r")(?:[/?#].*)?$")


class _MountedApp(responses.CallbackResponse):
    """One ``responses`` entry that sends every method under ``base_url`` (or the same URL at
    one of ``addresses``) to a WSGI app."""

    def __init__(
        self,
        base_url: str,
        app: WSGIApp,
        attribution: Attribution | None,
        addresses: Iterable[str] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self.attribution = attribution
        self.netloc = urlsplit(self.base_url).netloc
        pattern = _base_pattern(self.base_url, addresses)
        super().__init__("GET", pattern, callback=self._callback, content_type=None)

    def matches(self, request: Any) -> tuple[bool, str]:
        if not self._url_matches(self.url, str(request.url)):
            return False, "URL does not match"
        return True, ""

    def _callback(
        self, request: requests.PreparedRequest
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(str(request.url))
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, bytes):
            body = b"".join(body)  # a generator body
        builder = EnvironBuilder(
            method=request.method or "GET",
            # The app sees the host it is mounted for (a client that sent to a pinned address
            # sends its name in a Host header, which wins as it does over a real socket).
            base_url=f"{parts.scheme}://{self.netloc}",
            path=parts.path or "/",
            query_string=parts.query,
            headers=list(request.headers.items()),
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        if self.attribution is not None:
            environ[ENV_ATTRIBUTION] = self.attribution
        if parts.netloc != self.netloc:  # sent to an address the host resolved to
            environ[ENV_ADDRESS] = parts.hostname
        status, headers, content = _call_wsgi(self.app, environ)
        fault = environ.get(ENV_FAULT)
        if fault is not None:
            _raise_for(fault, str(request.url))
        return int(status.split(" ", 1)[0]), headers, content


def mount_responses(
    rsps: responses.RequestsMock,
    base_url: str,
    app: WSGIApp,
    *,
    attribution: Attribution | None = None,
    addresses: Iterable[str] = (),
) -> None:
    """Route every request under ``base_url`` (any method) through ``app`` in-process.

    ``addresses``: IP addresses the base URL's host resolves to; a request sent to one of them
    (the URL rewritten to the address, the name in the ``Host`` header: a client that pins what
    it resolved) reaches the app too. With ``assert_all_requests_are_fired=True`` an unused
    mount fails like any unused entry.
    """
    rsps.add(_MountedApp(base_url, app, attribution, addresses))


class _FaultingMiddleware:
    """Turns the app's drop-the-response marker into real socket behaviour."""

    def __init__(
        self,
        app: WSGIApp,
        hold_seconds: float,
        real_latency: bool,
        attribution: Attribution | None,
    ) -> None:
        self.app = app
        self.hold_seconds = hold_seconds
        self.real_latency = real_latency
        self.attribution = attribution

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if self.attribution is not None:
            environ[ENV_ATTRIBUTION] = self.attribution
        status, headers, body = _call_wsgi(self.app, environ)
        latency = environ.get(ENV_LATENCY_MS)
        if self.real_latency and latency:
            time.sleep(latency / 1000)
        fault: Fault | None = environ.get(ENV_FAULT)
        if fault is not None:
            self._drop(environ, fault)
        start_response(status, headers)
        return [body]

    def _drop(self, environ: dict[str, Any], fault: Fault) -> None:
        sock: socket.socket | None = environ.get("werkzeug.socket")
        if fault.mode != "connection_refused":
            time.sleep(self.hold_seconds)
        if sock is not None:
            try:
                if fault.mode == "connection_refused":  # reset, like a port nobody listens on
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # werkzeug treats ConnectionError as "client went away": no 500, no traceback.
        raise ConnectionAbortedError(f"fake: dropped by fault {fault.mode}")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ServedApp:
    """A fake served on a real port in a background thread; ``stop()`` or use as a context."""

    def __init__(self, server: BaseWSGIServer, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port: int = server.port
        scheme = "https" if server.ssl_context is not None else "http"
        self.url = f"{scheme}://{host}:{self.port}"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    app: WSGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    hold_seconds: float = 1.0,
    real_latency: bool = False,
    attribution: Attribution | None = None,
    quiet: bool = True,
    ssl_context: ssl.SSLContext | tuple[str, str] | None = None,
) -> ServedApp:
    """Serve ``app`` with werkzeug's threaded server; ``port=0`` picks a free port.

    ``hold_seconds``: how long a read_timeout/lost_response fault keeps the client waiting
    before the connection is dropped. ``real_latency``: also sleep for latency faults.
    ``ssl_context``: an ``ssl.SSLContext`` or ``(cert_file, key_file)`` to serve HTTPS (for
    clients that refuse plain HTTP, like PRAHO's outbound policy).
    """
    wrapped = _FaultingMiddleware(app, hold_seconds, real_latency, attribution)
    handler = _QuietHandler if quiet else WSGIRequestHandler
    server = make_server(
        host, port, wrapped, threaded=True, request_handler=handler, ssl_context=ssl_context
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        daemon=True,
        name=f"fake-server-{server.port}",
    )
    thread.start()
    return ServedApp(server, thread, host)
