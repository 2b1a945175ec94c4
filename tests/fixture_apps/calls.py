"""Load callables and task code for the tests of what calls report beyond raising.

* ``flaky_order``: a load that raises for some arrivals (3 of 10 with the default ``fail_on``);
* ``charge``: a load that raises for one arrival and returns ``{"success": False}`` for two;
* ``preflight``: a load that logs a warning and returns, as PRAHO's order service does when a
  price is missing;
* ``enqueue_swallow``: a load that enqueues a task that catches its own error, logs it and
  returns ``{"success": False}``;
* ``enqueue_each_of_a_set``: a load whose enqueue order is a set's order of strings;
* ``loop_on_save``: a setup step that connects a ``post_save`` receiver which enqueues the task
  whose save fires it (a loop without end, as one PRAHO commit had).
"""

from __future__ import annotations

import logging

from django.db.models.signals import post_save
from django_q.tasks import async_task

logger = logging.getLogger("fixture.orders")


def flaky_order(n: int, fail_on: tuple[int, ...] = (2, 5, 8)) -> str:
    if n in fail_on:
        raise ValueError(f"order {n}: the payment gateway rejected the customer's country")
    return f"order-{n}"


def charge(n: int) -> dict[str, object]:
    """A load whose arrivals fail both ways: arrival 1 raises, 3 and 4 return an error."""
    if n == 1:
        raise ConnectionError("payment gateway unreachable")
    if n in (3, 4):
        return {"success": False, "error": f"card declined (charge {n})"}
    return {"success": True}


def preflight(n: int) -> None:
    logger.warning("Preflight validation failed: no current price for RON (order %s)", n)


def enqueue_swallow(n: int) -> str:
    return async_task("tests.harness.sample_tasks.swallow", n)


def touch_customer(customer_id: int) -> int:
    """Saves the customer: the receiver below enqueues this task again."""
    from apps.customers.models import Customer

    customer = Customer.objects.get(pk=customer_id)
    customer.save()
    return customer_id


def _on_customer_saved(sender: type, instance: object, **kwargs: object) -> None:
    async_task("tests.fixture_apps.calls.touch_customer", instance.pk)  # type: ignore[attr-defined]


def loop_on_save() -> None:
    from apps.customers.models import Customer

    post_save.connect(_on_customer_saved, sender=Customer, dispatch_uid="fixture-loop")
    customer = Customer.objects.order_by("pk").first()
    assert customer is not None, "seed the customers first"
    async_task("tests.fixture_apps.calls.touch_customer", customer.pk)


def enqueue_fixed(n: int) -> str:
    """The swallowing task after its fix: it raises nothing and returns a success."""
    return async_task("tests.harness.sample_tasks.add", n, 1)


def provision(n: int, password: str) -> str:
    """A load that carries a credential in its arguments (as a careless admin script would)."""
    return async_task("tests.harness.sample_tasks.add", n, 1)


def failing_setup(password: str) -> None:
    raise ConnectionError(f"could not log in to vm1 as admin with password {password}")


def exits_in_setup() -> None:
    import sys

    sys.exit(1)


def crashes_in_setup() -> None:
    raise RuntimeError("the seed data refers to a plan that no longer exists")


def enqueue_warn() -> str:
    """Enqueues a task that logs a WARNING and returns."""
    return async_task("tests.harness.sample_tasks.warn_and_return")


def enqueue_refuse(token: str) -> str:
    """Enqueues a task that logs ``token`` at ERROR and returns ``{"success": False}``."""
    return async_task("tests.harness.sample_tasks.refuse_with_token", token)


def enqueue_each_of_a_set() -> int:
    """Enqueues one task per service id of a ``set`` of strings, in the set's own order, as
    PRAHO's reconcile task does: that order moves with ``PYTHONHASHSEED``."""
    ids = {f"service-{n}" for n in range(12)}
    for service_id in ids:
        async_task("tests.harness.sample_tasks.tick", service_id)
    return len(ids)
