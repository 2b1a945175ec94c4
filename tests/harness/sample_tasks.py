"""Task functions for the harness's own tests (the harness never imports apps/)."""

from __future__ import annotations

from collections import Counter

from django_q.tasks import async_task

CALLS: Counter[str] = Counter()


def add(x: int, y: int) -> int:
    CALLS["add"] += 1
    return x + y


def fail(reason: str = "boom") -> None:
    CALLS["fail"] += 1
    raise RuntimeError(reason)


def tick(label: str = "tick", **kwargs: object) -> str:
    CALLS[label] += 1
    return label


def fan_out(n: int) -> int:
    for i in range(n):
        async_task("tests.harness.sample_tasks.add", i, 1)
    return n


def spin() -> None:
    while True:
        pass


def backoff(tries: int = 3, base: float = 0.5) -> int:
    """A gateway's retry loop: 0.5·2^n s between tries, as PRAHO's gateways back off."""
    import time

    for n in range(tries):
        time.sleep(base * 2**n)
    return tries


def wait_for(seconds: float = 30.0, step: float = 1.0) -> int:
    """A deadline loop on the monotonic clock: polls until ``seconds`` have passed."""
    import time

    deadline = time.monotonic() + seconds
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        time.sleep(step)
    return polls


def now_after_sleep(seconds: float) -> list[str]:
    """What the body sees of time before and after it sleeps."""
    import time

    from django.utils import timezone

    before = timezone.now().isoformat()
    time.sleep(seconds)
    return [before, timezone.now().isoformat()]


def swallow(customer: int = 1) -> dict[str, object]:
    """Catches its own error, logs it and reports failure in its result (PRAHO's pattern)."""
    import logging

    try:
        raise LookupError(f"Cannot resolve keyword 'renewal' for customer {customer}")
    except LookupError as exc:
        logging.getLogger("myproject.billing").error("auto-renewal failed: %s", exc)
        return {"success": False, "error": str(exc)}


def warn_and_return() -> str:
    import logging

    logging.getLogger("myproject.orders").warning("Preflight validation failed: no price in RON")
    return "skipped"


def requeue(n: int = 0) -> int:
    """Enqueues itself again: a loop without end, as a post_save handler can make one."""
    async_task("tests.harness.sample_tasks.requeue", n + 1)
    return n


def refuse_with_token(token: str) -> dict[str, object]:
    """Logs the credential it was refused with at ERROR and reports failure in its result."""
    import logging

    logging.getLogger("myproject.gateway").error("gateway refused token %s", token)
    return {"success": False}
