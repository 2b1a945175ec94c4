"""The effect ledger: ordering, filtering, stable encoding, live subscribers, threads."""

from __future__ import annotations

import json
import threading

from harness.fakes.ledger import Ledger, LedgerEntry
from tests.fakes.support import Clock


def _record(ledger: Ledger, **kw: object) -> LedgerEntry:
    base: dict[str, object] = {
        "fake": "registrar",
        "method": "POST",
        "path": "/x",
        "operation": "domain.renew",
        "status": 200,
    }
    base.update(kw)
    return ledger.record(**base)  # type: ignore[arg-type]


def test_record_filter_and_encode(clock: Clock) -> None:
    ledger = Ledger(clock)
    _record(
        ledger, effect="domain.renewed", business_key="a.ro", detail={"z": 1, "a": {"y": 2, "b": 3}}
    )
    clock.advance(minutes=5)
    _record(ledger, fake="virtualmin", operation="info", method="GET")
    _record(ledger, fake="payments", effect="charge.succeeded", task_id="t1", attempt=2)
    assert [e.seq for e in ledger.entries()] == [1, 2, 3]
    assert [e.fake for e in ledger.effects()] == ["registrar", "payments"]
    assert [e.seq for e in ledger.effects(effect="charge.succeeded")] == [3]
    assert ledger.effects(fake="virtualmin") == []
    assert len(ledger.entries("virtualmin")) == 1
    first = ledger.to_dicts()[0]
    assert list(first) == [
        "seq",
        "at",
        "fake",
        "method",
        "path",
        "operation",
        "business_key",
        "effect",
        "status",
        "fault",
        "task_id",
        "attempt",
        "detail",
    ]
    assert first["at"] == "2026-03-01T09:00:00+00:00"
    assert list(first["detail"]) == ["a", "z"] and list(first["detail"]["a"]) == ["b", "y"]
    lines = ledger.to_json_lines().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    assert json.loads(lines[1])["at"] == "2026-03-01T09:05:00+00:00"


def test_identical_runs_encode_byte_identically(clock: Clock) -> None:
    def run() -> str:
        ledger = Ledger(Clock())
        _record(ledger, detail={"b": 1, "a": [1, {"d": 1, "c": 2}]})
        _record(ledger, effect="domain.renewed")
        return ledger.to_json_lines()

    assert run() == run()


def test_subscribers_receive_live_entries_and_can_leave(clock: Clock) -> None:
    ledger = Ledger(clock)
    seen: list[int] = []
    unsubscribe = ledger.subscribe(lambda e: seen.append(e.seq))
    _record(ledger)
    _record(ledger)
    unsubscribe()
    _record(ledger)
    assert seen == [1, 2]
    ledger.clear()
    assert ledger.entries() == [] and _record(ledger).seq == 1


def test_concurrent_records_get_unique_ordered_seqs(clock: Clock) -> None:
    ledger = Ledger(clock)
    delivered: list[int] = []
    ledger.subscribe(lambda e: delivered.append(e.seq))

    def worker() -> None:
        for _ in range(200):
            _record(ledger)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.seq for e in ledger.entries()] == list(range(1, 801))
    assert delivered == list(range(1, 801))
