"""Mount a scenario's fakes in-process: one ledger, one fault injector, one RequestsMock.

Every fake of ``[fakes.<kind>]`` is built from ``harness.fakes.FAKES`` (kind → class) with its
options (``{settings.NAME}`` replaced by the setting's value), mounted at its URL on one
``responses.RequestsMock`` (any other request is refused: no network), and its ledger is copied
into the timeline. A payments fake with ``webhook_path`` delivers its webhooks to the project's
own view after each step, through Django's test client.
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
    """Build the ledger, the fault injector and every fake; mount them on ``rsps``.

    Returns (ledger or None, kind → (fake, options), the merged fault rules)."""
    from harness.fakes import FaultInjector, FaultPlan, Ledger
    from harness.fakes.transport import mount_responses

    if not scenario.fakes:
        return None, {}, []
    ledger = Ledger(sim.now)
    rules = [dict(rule) for spec in scenario.fakes for rule in spec.faults]
    injector = (
        FaultInjector(FaultPlan.from_dict({"rules": rules}), seed=seed, origin=scenario.start)
        if rules
        else None
    )
    built: dict[str, Any] = {}
    for spec in scenario.fakes:
        where = f"fakes.{spec.kind}"
        options = fill_settings(spec.options, scenario, f"{where}.options")
        url = check_url(fill_settings(spec.url, scenario, f"{where}.url"), scenario, f"{where}.url")
        try:
            fake = _construct(spec, ledger, sim.now, injector, options, seed)
        except TypeError as exc:
            raise ScenarioError(scenario.source, f"{where}.options", str(exc)) from None
        if spec.kind == "payments" and spec.webhook_path:
            sim.probes.append(lambda _sim, fake=fake: fake.deliver_webhooks())
        mount_responses(rsps, url, fake)
        built[spec.kind] = (fake, options)
    sim.observe_ledger(ledger)
    return ledger, built, rules


def _construct(
    spec: FakeSpec, ledger: Any, now: Any, injector: Any, options: dict, seed: int
) -> Any:
    from harness.fakes import FAKES

    cls = FAKES[spec.kind]
    extra: dict[str, Any] = {}
    if spec.kind == "payments":
        extra["seed"] = seed
        if spec.webhook_path:
            extra.update(
                webhook_url=f"http://localhost{spec.webhook_path}",
                sender=_webhook_sender(spec.webhook_path),
                deliver_webhooks="manual",
            )
    return cls(ledger, now, injector, **{**extra, **options})
