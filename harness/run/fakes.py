"""Mount a scenario's fakes in-process: one ledger, one fault injector, one RequestsMock.

Every fake of ``[fakes.<name>]`` is built from its class (``harness.fakes.FAKES`` for the
built-in names, the project's own with ``app = "dotted.path:Class"``) with its options
(``{settings.NAME}`` replaced by the setting's value), mounted at its URL on one
``responses.RequestsMock`` (any other request is refused: no network), its host given an
address the network guard owns (a client that resolves and pins DNS reaches it too), and its
ledger is copied into the timeline. A payments fake with ``webhook_path`` delivers its webhooks
to the project's own view after each step, through Django's test client.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from harness.scenario import FakeSpec, Scenario, ScenarioError

_SETTING = re.compile(r"\{settings\.([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_settings(value: Any, scenario: Scenario, where: str) -> Any:
    """``{settings.NAME}`` in strings (nested in lists and tables) → the setting's value."""
    from django.conf import settings

    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if not hasattr(settings, m.group(1)):
                raise ScenarioError(scenario.source, where, f"no setting named {m.group(1)}")
            return str(getattr(settings, m.group(1)))

        return _SETTING.sub(sub, value)
    if isinstance(value, list):
        return [fill_settings(v, scenario, where) for v in value]
    if isinstance(value, dict):
        return {k: fill_settings(v, scenario, f"{where}.{k}") for k, v in value.items()}
    return value


def check_url(url: str, scenario: Scenario, where: str) -> str:
    """A fake is mounted at an http(s) URL with a host; anything else is the scenario's error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScenarioError(scenario.source, where, f"{url!r} is not an http(s) URL with a host")
    return url


def _webhook_sender(path: str) -> Callable[..., Any]:
    """Deliver the payments fake's webhooks to the project's own view, in-process."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")

    def send(url: str, data: Any = None, headers: Any = None, timeout: Any = None) -> Any:
        extra = {"Stripe-Signature": (headers or {}).get("Stripe-Signature", "")}
        return client.post(path, data=data, content_type="application/json", headers=extra)

    return send


def mount(
    scenario: Scenario, sim: Any, rsps: Any, seed: int
) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """Build the ledger, the fault injector and every fake; mount them on ``rsps``, and give
    each fake's host an address the network guard owns (:mod:`harness.sim.fakehosts`).

    Returns (ledger or None, name → (fake, options), the merged fault rules)."""
    from harness.fakes import Ledger
    from harness.fakes.transport import mount_responses
    from harness.scenario.resolve import fake_class

    if not scenario.fakes:
        return None, {}, []
    ledger = Ledger(sim.now)
    classes = {spec.name: fake_class(spec, scenario.source) for spec in scenario.fakes}
    rules = [dict(rule) for spec in scenario.fakes for rule in spec.faults]
    injector = _injector(scenario, classes, rules, seed)
    built: dict[str, Any] = {}
    for spec in scenario.fakes:
        where = f"fakes.{spec.name}"
        options = fill_settings(spec.options, scenario, f"{where}.options")
        url = check_url(fill_settings(spec.url, scenario, f"{where}.url"), scenario, f"{where}.url")
        try:
            fake = _construct(spec, classes[spec.name], ledger, sim.now, injector, options, seed)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(scenario.source, f"{where}.options", str(exc)) from None
        if spec.name == "payments" and spec.webhook_path:
            sim.probes.append(lambda _sim, fake=fake: fake.deliver_webhooks())
        guard = getattr(sim, "guard", None)
        addresses = [guard.own(url, fake)] if guard is not None else []
        mount_responses(rsps, url, fake, addresses=addresses)
        built[spec.name] = (fake, options)
    sim.observe_ledger(ledger)
    return ledger, built, rules


def _injector(
    scenario: Scenario, classes: dict[str, type], rules: list[dict[str, Any]], seed: int
) -> Any:
    """One fault injector for every fake's rules (None without rules)."""
    from harness.fakes import FaultInjector, FaultPlan
    from harness.scenario.resolve import fake_operations

    if not rules:
        return None
    own = {spec.name: fake_operations(classes[spec.name]) for spec in scenario.fakes if spec.app}
    plan = FaultPlan.from_dict({"rules": rules}, operations=own)
    return FaultInjector(plan, seed=seed, origin=scenario.start)


def _construct(
    spec: FakeSpec,
    cls: type,
    ledger: Any,
    now: Any,
    injector: Any,
    options: dict,
    seed: int,
) -> Any:
    extra: dict[str, Any] = {}
    if _accepts(cls, "seed"):
        extra["seed"] = seed
    if spec.name == "payments" and spec.webhook_path:
        extra.update(
            webhook_url=f"http://localhost{spec.webhook_path}",
            sender=_webhook_sender(spec.webhook_path),
            deliver_webhooks="manual",
        )
    fake = cls(ledger, now, injector, **{**extra, **options})
    fake.name = spec.name  # faults, the ledger and the report know a fake by its scenario name
    return fake


def _accepts(cls: type, keyword: str) -> bool:
    """The constructor takes ``keyword`` (by name, or through ``**kwargs``)."""
    import inspect

    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    variadic = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return keyword in params or variadic
