"""duplicate-effects: which effects must happen once (defaults, a fake's own, or ``once``)."""

from __future__ import annotations

import datetime as dt

from harness.checkers import RunContext
from harness.checkers.duplicate_effects import check, options
from harness.fakes import LedgerEntry
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from harness.scenario.reader import OptionsReader
from harness.sim.cluster import ClusterSpec

START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _entry(seq: int, effect: str, key: str, **detail) -> LedgerEntry:
    at = START + dt.timedelta(minutes=seq)
    return LedgerEntry(seq, at, "mailer", "POST", "/v3/d/messages", "message.send", key, effect,
                       200, None, f"task{seq}", 1, detail)  # fmt: skip


def _judge(entries: list[LedgerEntry], table: dict) -> tuple[bool, str]:
    facts = ScenarioFacts("t", "<test>", "UTC", START, dt.timedelta(hours=1), seed=0)
    record = RunRecord(
        scenario=facts, seed=0, end=START + dt.timedelta(hours=1), timeline=Timeline(),
        clusters=[ClusterSpec(name="q")], default_cluster="q", snapshot=Snapshot(),
        ledger=entries,
    )  # fmt: skip
    opts = options(OptionsReader("<test>", table, "expect.duplicate-effects"))
    verdict = check(RunContext(record, {"duplicate-effects": opts}))
    return verdict.ok, verdict.message


def test_an_effect_is_judged_when_its_fake_declares_it_once_or_the_scenario_names_it():
    declared = [
        _entry(1, "message.sent", "42", once=True),
        _entry(2, "message.sent", "42", once=True),
    ]
    plain = [_entry(1, "message.sent", "42"), _entry(2, "message.sent", "42")]
    ok, message = _judge(declared, {})
    assert not ok and "mailer message.sent for '42' happened 2×" in message
    assert _judge(plain, {}) == (True, "0 effects, each once per business key")
    ok, message = _judge(plain, {"once": ["message.sent"]})
    assert not ok and "for '42' happened 2×" in message
    assert _judge(declared, {"once": ["charge.succeeded"]})[0]  # named: exactly those
