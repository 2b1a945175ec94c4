"""A project's own fake, declared: routes with path templates, state as plain attributes.

The built-in fakes parse their service's wire format by hand. A project that needs a fake of a
service the harness does not know (a mail provider, a tax authority's API) subclasses
:class:`FakeService` and declares what each endpoint is::

    class FakeMailer(FakeService):
        credentials = ("api_key",)

        def __init__(self, *args, api_key: str = "key-test", **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.api_key = api_key
            self.sent: list[dict] = []

        @route("POST", "/v3/{domain}/messages", operation="message.send",
               effect="message.sent", key="form:v:order", once=True)
        def send(self, request, domain):
            self.sent.append(dict(request.form))
            return {"id": self.new_id("msg"), "message": "Queued. Thank you."}

and gets from :class:`~harness.fakes.base.FakeApp` what every fake has: fault rules decided per
request (by operation, business key and host), one ledger entry per request (the effect when
the handler answered with a body), 404/405 and errors in one JSON shape, attribution.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from werkzeug.wrappers import Request

from harness.fakes.base import Attribution, Call, FakeApp, Reply, make_id
from harness.fakes.faults import FaultInjector
from harness.fakes.ledger import Ledger

KeySource = str | Callable[..., Any] | None
KEY_SOURCES = ("path", "form", "query", "header", "json")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class Route:
    """One declared endpoint of a :class:`FakeService`."""

    method: str
    template: str
    operation: str
    effect: str | None
    key: KeySource
    once: bool
    handler: str
    pattern: re.Pattern[str]


def compile_template(template: str) -> re.Pattern[str]:
    """``/v3/{domain}/messages`` → a regex with one named group per ``{name}`` (one segment)."""
    if not template.startswith("/"):
        raise ValueError(f"route path {template!r} must start with '/'")
    parts, pos = [], 0
    for m in _PARAM.finditer(template):
        parts += [re.escape(template[pos : m.start()]), f"(?P<{m.group(1)}>[^/]+)"]
        pos = m.end()
    parts.append(re.escape(template[pos:].rstrip("/")))
    return re.compile("^" + "".join(parts) + "/?$")


def route(
    method: str,
    path: str,
    *,
    operation: str,
    effect: str | None = None,
    key: KeySource = None,
    once: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a handler for ``method`` on the path template ``path``.

    ``operation``: the name fault rules and the ledger use. ``effect``: recorded when the
    handler returns a body (a 2xx); ``once``: that effect must happen once per business key
    (the ``duplicate-effects`` checker's default list gains it). ``key``: the business key —
    ``"path:NAME"``, ``"form:NAME"``, ``"query:NAME"``, ``"header:NAME"``, ``"json:a.b"`` or
    a callable ``(request, **path_params) -> str | None``.
    """
    method = method.upper()
    if method not in _METHODS:
        raise ValueError(f"route {path!r}: unknown HTTP method {method!r}")
    if not operation:
        raise ValueError(f"route {path!r}: operation is required")
    pattern = compile_template(path)
    if isinstance(key, str):
        source, _, name = key.partition(":")
        if source not in KEY_SOURCES or not name:
            raise ValueError(
                f"route {path!r}: key {key!r} is not one of {', '.join(KEY_SOURCES)}:NAME"
            )
        if source == "path" and name not in pattern.groupindex:
            raise ValueError(f"route {path!r}: key {key!r} names no path parameter")
    if once and not effect:
        raise ValueError(f"route {path!r}: once=True needs an effect")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        declared = (*getattr(fn, "_fake_routes", ()), (method, path, operation, effect, key, once))
        fn._fake_routes = declared  # type: ignore[attr-defined]
        return fn

    return decorate


class FakeService(FakeApp):
    """Base of a declared fake: subclasses add ``@route`` handlers (and options, state)."""

    name = "service"
    routes: ClassVar[tuple[Route, ...]] = ()
    operations: ClassVar[frozenset[str]] = frozenset()
    once_effects: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[tuple[str, str], Route] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for method, path, operation, effect, key, once in getattr(
                    value, "_fake_routes", ()
                ):
                    found[(method, path)] = Route(
                        method, path, operation, effect, key, once, attr, compile_template(path)
                    )
        cls.routes = tuple(found.values())
        cls.operations = frozenset(r.operation for r in cls.routes)
        cls.once_effects = frozenset(r.effect for r in cls.routes if r.once and r.effect)

    def __init__(
        self,
        ledger: Ledger,
        now: Callable[[], datetime],
        faults: FaultInjector | None = None,
        *,
        seed: int | str = 0,
        attribution: Attribution | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        super().__init__(
            ledger, now, faults, attribution=attribution, max_body_bytes=max_body_bytes
        )
        self.seed = seed
        self._ids = 0

    # -- what handlers use --------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        """A fresh id (``msg_3f9c…``) that depends only on the seed and how many came before."""
        self._ids += 1
        return make_id(self.seed, prefix, self._ids)

    def reply(self, status: int, body: Any, *, effect: str | None = None, **headers: str) -> Reply:
        """An answer with exactly this status, body and effect (a handler's own choice)."""
        return Reply(status, body, headers=dict(headers), effect=effect, text=isinstance(body, str))

    def error(self, status: int, message: str) -> Reply:
        """An error in this fake's shape (:meth:`error_reply`), with no effect."""
        return self.error_reply(status, message, None)

    # -- hooks ----------------------------------------------------------------------------------
    def authorize(self, request: Request) -> str | None:
        """None when the request may proceed, else why not (answered with a 401)."""
        return None

    def error_reply(self, status: int, message: str, call: Call | None) -> Reply:
        """The default error shape, ``{"error": message}``; override for the service's own."""
        return Reply(status, {"error": message}, operation=call.operation if call else None)

    # -- routing --------------------------------------------------------------------------------
    def route(self, request: Request) -> Call | Reply:
        allowed: list[str] = []
        for r in self.routes:
            m = r.pattern.match(request.path)
            if m is None:
                continue
            if r.method != request.method:
                allowed.append(r.method)
                continue
            params = m.groupdict()
            host = (request.host or "").rsplit(":", 1)[0].lower() or None
            return Call(
                r.operation,
                _business_key(r.key, request, params),
                lambda r=r, params=params: self._serve(r, request, params),
                detail={"params": params} if params else {},
                host=host,
            )
        if allowed:
            reply = self.error_reply(405, f"Method {request.method} not allowed", None)
            reply.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return reply
        return self.error_reply(404, f"Not found: {request.method} {request.path}", None)

    def _serve(self, r: Route, request: Request, params: dict[str, str]) -> Reply:
        refused = self.authorize(request)
        if refused is not None:
            return self.error_reply(401, refused, None)
        result = getattr(self, r.handler)(request, **params)
        if isinstance(result, Reply):
            reply = result
        else:
            reply = Reply(200, result, effect=r.effect, text=isinstance(result, str))
        if reply.effect is not None and reply.effect in self.once_effects:
            reply.detail["once"] = True
        return reply


def _business_key(key: KeySource, request: Request, params: dict[str, str]) -> str | None:
    """The request's business key as the route declares it (None when absent)."""
    if key is None:
        return None
    if callable(key):
        value = key(request, **params)
    else:
        source, _, name = key.partition(":")
        if source == "path":
            value = params.get(name)
        elif source == "form":
            value = request.form.get(name)
        elif source == "query":
            value = request.args.get(name)
        elif source == "header":
            value = request.headers.get(name)
        else:
            value = request.get_json(silent=True)
            for part in name.split("."):
                value = value.get(part) if isinstance(value, dict) else None
    return None if value is None or value == "" else str(value)
