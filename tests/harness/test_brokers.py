"""The broker strategies (harness.brokers): one per broker, the only place a broker is named."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from harness.brokers import CLIENT_MODULES, DEFAULT, KINDS, ORM, REDIS, broker_kind
from harness.sim.network import CLIENTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", KINDS.values(), ids=KINDS)
def test_each_strategy_names_a_deterministic_broker_class(kind) -> None:
    module, name = kind.broker_class.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert callable(cls.dequeue) and callable(cls.enqueue)


def test_the_orm_broker_is_transactional_bulk_and_acknowledged() -> None:
    assert DEFAULT is ORM
    assert (ORM.transactional_enqueue, ORM.rows_in_sql, ORM.acknowledges) == (True, True, True)
    assert ORM.batch_size(5) == 5
    assert REDIS.batch_size(5) == 1
    assert not REDIS.transactional_enqueue and not REDIS.rows_in_sql and not REDIS.acknowledges


def test_a_claim_is_invisible_until_retry_only_where_tasks_are_acknowledged() -> None:
    import datetime as dt

    claimed = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert ORM.lock_until(claimed, 60) == claimed + dt.timedelta(seconds=60)
    assert REDIS.lock_until(claimed, 60) is None


def test_an_unknown_broker_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"^unknown broker 'rabbit': 'orm' or 'redis'$"):
        broker_kind("rabbit")
    assert broker_kind("redis") is REDIS


def test_the_network_guard_names_the_brokers_clients() -> None:
    assert set(CLIENT_MODULES) <= set(CLIENTS)
    assert "redis" in CLIENT_MODULES


def test_only_the_strategies_spell_a_brokers_name() -> None:
    """The broker kind lives in one place: no other module writes "orm" or "redis"."""
    spelled = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "harness").rglob("*.py")
        if re.search(r'"(orm|redis)"', path.read_text(encoding="utf-8"))
    }
    assert spelled == {"harness/brokers.py"}
