"""The brokers a simulation can run on, and what each does differently: one strategy apiece.

django-q2's ORM and Redis brokers differ in ways the driver, the recorder and the checkers all
have to know about. Each difference is an attribute here, so nothing else branches on a broker's
name: the name is only what a run record keeps (its ``broker`` field) and what a user writes
(``Simulation(broker=...)``, the ``qsim`` marker). A leaf: imports nothing of the harness, so
``record`` and ``checkers`` may read it as well as ``sim``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BrokerKind:
    """One broker's semantics, as the simulation models them."""

    name: str
    """How a run record and the user spell it."""
    broker_class: str
    """The deterministic broker class (``harness.sim.broker``), set as ``Conf.BROKER_CLASS``."""
    transactional_enqueue: bool
    """An enqueue writes inside the caller's database transaction: a scheduler pass that fails
    rolls its enqueues back with it (ORM); otherwise they stay (Redis: django-q2's duplicates)."""
    claims_bulk: bool
    """One claim takes up to ``bulk`` tasks (ORM); otherwise one at a time (Redis ignores it)."""
    rows_in_sql: bool
    """Queued tasks are rows in django-q2's ``OrmQ`` table, visible by their ``lock`` time: the
    look-ahead can read when the next one becomes visible, a drain can cap by row id, and rows a
    data migration left can be taken over. Otherwise the queue lives elsewhere (a Redis list)
    and is asked for its length."""
    acknowledges: bool
    """A claimed task stays invisible until ``retry`` seconds after its claim and is done only
    when acked; un-acked, it is delivered again (ORM). Otherwise delivery is at most once: a task
    that ran is done, whatever its outcome (Redis)."""
    client_module: str | None
    """The Python client library the broker talks through (the network guard names it)."""

    def batch_size(self, bulk: int) -> int:
        """How many tasks one claim asks for, given the cluster's ``bulk``."""
        return bulk if self.claims_bulk else 1

    def lock_until(self, claimed: datetime, retry: int) -> datetime | None:
        """Until when a task claimed at ``claimed`` stays invisible (None: it never reappears)."""
        return claimed + timedelta(seconds=retry) if self.acknowledges else None


ORM = BrokerKind(
    name="orm",
    broker_class="harness.sim.broker.DeterministicORM",
    transactional_enqueue=True,
    claims_bulk=True,
    rows_in_sql=True,
    acknowledges=True,
    client_module=None,  # psycopg, through libpq: below the network guard
)
REDIS = BrokerKind(
    name="redis",
    broker_class="harness.sim.broker.DeterministicRedis",
    transactional_enqueue=False,
    claims_bulk=False,
    rows_in_sql=False,
    acknowledges=False,
    client_module="redis",
)
KINDS: dict[str, BrokerKind] = {kind.name: kind for kind in (ORM, REDIS)}
DEFAULT = ORM
CLIENT_MODULES = tuple(k.client_module for k in KINDS.values() if k.client_module)


def broker_kind(name: str) -> BrokerKind:
    """The strategy for a broker's name (a ``ValueError`` naming the known ones otherwise)."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        known = " or ".join(repr(n) for n in KINDS)
        raise ValueError(f"unknown broker {name!r}: {known}") from None
