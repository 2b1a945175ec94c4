"""What every fake shares: WSGI entry, attribution, fault application and ledger recording.

A fake subclasses :class:`FakeApp` and implements :meth:`route` (parse the request, no side
effects) plus the error renderers for its service's wire format. The base class then decides the
fault for the request, runs it (or not), records exactly one ledger entry, and tells the
transport through the WSGI environ when the client must see no response at all.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from harness.fakes.faults import Fault, FaultInjector
from harness.fakes.ledger import ATTEMPT_HEADER, TASK_HEADER, Ledger

#: environ key the app sets when the transport must drop the response (value: a Fault).
ENV_FAULT = "fakes.fault"
#: environ key with the virtual latency (ms) of this request, for transports that sleep.
ENV_LATENCY_MS = "fakes.latency_ms"
#: environ key a transport may set with ``(task_id, attempt)`` when headers are absent.
ENV_ATTRIBUTION = "fakes.attribution"
#: environ key a transport sets when the client sent to the host's address, not its name
#: (a client that resolves and pins DNS); recorded in the ledger's ``detail["address"]``.
ENV_ADDRESS = "fakes.address"

Attribution = Callable[[], tuple[str | None, int | None]]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024

#: Constructor keywords the runner sets itself (webhooks, the transport): never options.
HARNESS_FILLS = ("attribution", "sender", "webhook_url", "deliver_webhooks", "max_body_bytes")


@dataclass
class Reply:
    """A fake's answer: status, JSON body (or text), headers, and the effect it had."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    effect: str | None = None
    business_key: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    operation: str | None = None
    text: bool = False


@dataclass
class Call:
    """A parsed request: what it is (for faults and the ledger) and how to perform it."""

    operation: str
    business_key: str | None
    run: Callable[[], Reply]
    detail: dict[str, Any] = field(default_factory=dict)
    host: str | None = None


def make_id(seed: int | str, prefix: str, n: int) -> str:
    """A Stripe-looking id (``pi_3f9c...``) that depends only on seed, prefix and counter."""
    digest = hashlib.blake2b(f"{seed}:{prefix}:{n}".encode(), digest_size=12).hexdigest()
    return f"{prefix}_{digest}"


def json_body(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def buffer_streamed_body(environ: dict[str, Any], limit: int) -> bool:
    """Read a streamed body (``Transfer-Encoding: chunked``, no length) whole, up to ``limit``
    bytes; False when it is longer.

    werkzeug reads such a body only up to ``max_content_length`` and stops there without a word
    (a 2 MiB body reached the fake cut at 1 MiB, answered 200), and sees none at all in a
    buffered environ that still names the encoding (in-process). Buffered here, the request goes
    on as one with a ``Content-Length``, so the same limit is enforced the same way (413)."""
    from io import BytesIO

    from werkzeug.http import parse_set_header

    if "chunked" not in parse_set_header(environ.get("HTTP_TRANSFER_ENCODING")):
        return True
    stream, parts, size = environ["wsgi.input"], [], 0
    while size <= limit:
        part = stream.read(min(64 * 1024, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        return False  # the rest is left unread (werkzeug's server discards it before closing)
    environ["wsgi.input"] = BytesIO(b"".join(parts))
    environ["CONTENT_LENGTH"] = str(size)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    return True


def option_names(cls: type) -> list[str]:
    """A fake's options: its constructor's keyword-only parameters, less what the runner fills."""
    import inspect

    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    return [
        name
        for name, p in params.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in HARNESS_FILLS
    ]


class FakeApp:
    """Base WSGI application; subclasses set :attr:`name` and implement the hooks below."""

    name = "fake"
    #: Options whose values are credentials: a run replaces them by markers in what it records.
    credentials: tuple[str, ...] = ()

    def __init__(
        self,
        ledger: Ledger,
        now: Callable[[], datetime],
        faults: FaultInjector | None = None,
        *,
        attribution: Attribution | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        self.ledger = ledger
        self.now = now
        self.faults = faults
        self.attribution = attribution
        self.max_body_bytes = max_body_bytes or DEFAULT_MAX_BODY_BYTES
        # One request at a time mutates state: check-then-act (idempotency, "already exists")
        # must be atomic under werkzeug's threaded server.
        self.lock = threading.RLock()

    # -- hooks -------------------------------------------------------------------------------
    def route(self, request: Request) -> Call | Reply:
        """Parse the request (no side effects) into a Call, or answer an invalid one directly."""
        raise NotImplementedError

    def error_reply(self, status: int, message: str, call: Call | None) -> Reply:
        """The service's own error shape for ``status`` (used for faults and internal errors)."""
        raise NotImplementedError

    def too_large_reply(self) -> Reply:
        return self.error_reply(413, f"Request body larger than {self.max_body_bytes} bytes", None)

    def rate_limit_reply(self, fault: Fault, call: Call) -> Reply:
        reply = self.error_reply(429, fault.message or "Too many requests", call)
        reply.headers["Retry-After"] = str(fault.retry_after or 0)
        return reply

    def unavailable_reply(self, fault: Fault, call: Call) -> Reply:
        return self.error_reply(503, fault.message or "Service Unavailable", call)

    def after_request(self) -> None:
        """Runs after each request, outside the state lock (e.g. to send webhooks)."""

    # -- WSGI --------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        within = buffer_streamed_body(environ, self.max_body_bytes)
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        with self.lock:
            reply = self._handle(request, environ, within)
        self.after_request()
        if reply.text:
            response = Response(str(reply.body), status=reply.status, mimetype="text/plain")
        else:
            response = Response(
                json_body(reply.body), status=reply.status, mimetype="application/json"
            )
        for key, value in reply.headers.items():
            response.headers[key] = value
        return response(environ, start_response)

    def _attribution(
        self, request: Request, environ: dict[str, Any]
    ) -> tuple[str | None, int | None]:
        task_id = request.headers.get(TASK_HEADER)
        raw_attempt = request.headers.get(ATTEMPT_HEADER)
        attempt = int(raw_attempt) if raw_attempt and raw_attempt.strip().isdigit() else None
        if task_id is None and attempt is None:
            source = environ.get(ENV_ATTRIBUTION) or self.attribution
            if source is not None:
                task_id, attempt = source()
        return task_id, attempt

    def _handle(self, request: Request, environ: dict[str, Any], within: bool = True) -> Reply:
        task_id, attempt = self._attribution(request, environ)
        try:
            if not within:
                raise RequestEntityTooLarge()
            routed = self.route(request)
        except RequestEntityTooLarge:
            routed = self.too_large_reply()
        except Exception as exc:  # a parsing bug must still look like the service, not a 500 page
            routed = self.error_reply(500, "Internal error", None)
            routed.detail["exception"] = type(exc).__name__
        if isinstance(routed, Reply):
            return self._record(
                request, routed, routed.operation or "invalid", None, task_id, attempt
            )

        call = routed
        fault = None
        if self.faults is not None:
            fault = self.faults.decide(
                self.name, call.operation, call.business_key, self.now(), host=call.host
            )
        latency = fault.latency_ms if fault else 0
        if latency:
            environ[ENV_LATENCY_MS] = latency

        if fault is None or fault.applies_request:
            try:
                reply = call.run()
            except Exception as exc:
                reply = self.error_reply(500, "Internal error", call)
                reply.detail["exception"] = type(exc).__name__
        elif fault.mode == "503":
            reply = self.unavailable_reply(fault, call)
        elif fault.mode == "rate_limit":
            reply = self.rate_limit_reply(fault, call)
        elif fault.mode == "error":
            assert fault.status is not None
            if fault.envelope is not None:
                reply = Reply(fault.status, fault.envelope)
            else:
                reply = self.error_reply(fault.status, fault.message or "Injected error", call)
        else:  # connection_refused / read_timeout: nothing happens server-side
            reply = Reply(0, None)

        if fault is not None and fault.drops_response:
            environ[ENV_FAULT] = fault
            if reply.status:
                reply.detail["applied_status"] = reply.status
            recorded = Reply(
                0,
                reply.body,
                effect=reply.effect,
                business_key=reply.business_key,
                detail=reply.detail,
            )
            self._record(request, recorded, call.operation, call, task_id, attempt, fault)
            # The transport drops this; a plain client of the bare WSGI app sees a 504.
            return Reply(504, {"fault": fault.mode}, headers={"X-Fake-Fault": fault.mode})
        return self._record(request, reply, call.operation, call, task_id, attempt, fault)

    def _record(
        self,
        request: Request,
        reply: Reply,
        operation: str,
        call: Call | None,
        task_id: str | None,
        attempt: int | None,
        fault: Fault | None = None,
    ) -> Reply:
        detail = dict(call.detail) if call else {}
        detail.update(reply.detail)
        if request.environ.get(ENV_ADDRESS):
            detail["address"] = request.environ[ENV_ADDRESS]
        if fault is not None:
            detail["fault_rule"] = fault.rule
            if fault.latency_ms:
                detail["latency_ms"] = fault.latency_ms
        business_key = reply.business_key or (call.business_key if call else None)
        self.ledger.record(
            fake=self.name,
            method=request.method,
            path=request.path,
            operation=operation,
            business_key=business_key,
            effect=reply.effect,
            status=reply.status,
            fault=fault.mode if fault else None,
            task_id=task_id,
            attempt=attempt,
            detail=detail,
        )
        return reply
