"""duplicate-effects: which effects must happen once (defaults, a fake's own, or ``once``)."""

from __future__ import annotations

import datetime as dt

from harness.checkers import RunContext, Verdict
from harness.checkers.duplicate_effects import check
from harness.checkers.expectations import parse
from harness.fakes import LedgerEntry
from harness.record.run import RunRecord, ScenarioFacts, Snapshot
from harness.record.timeline import Timeline
from harness.sim.cluster import ClusterSpec

START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _entry(seq: int, effect: str, key: str, **detail) -> LedgerEntry:
    at = START + dt.timedelta(minutes=seq)
    return LedgerEntry(seq, at, "mailer", "POST", "/v3/d/messages", "message.send", key, effect,
                       200, None, f"task{seq}", 1, detail)  # fmt: skip


def _verdict(entries: list[LedgerEntry], table: dict) -> Verdict:
    facts = ScenarioFacts("t", "<test>", "UTC", START, dt.timedelta(hours=1), seed=0)
    record = RunRecord(
        scenario=facts, seed=0, end=START + dt.timedelta(hours=1), timeline=Timeline(),
        clusters=[ClusterSpec(name="q")], default_cluster="q", snapshot=Snapshot(),
        ledger=entries,
    )  # fmt: skip
    return check(RunContext(record, parse({"duplicate-effects": table}, "<test>")))


def _judge(entries: list[LedgerEntry], table: dict) -> tuple[bool, str]:
    verdict = _verdict(entries, table)
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


def test_every_key_sent_twice_is_one_instance_of_one_problem_about_the_effect():
    """Three customers mailed twice by two different tasks: the business key is data (another
    seed, other customers), so the fingerprint is the effect's; the keys are in the messages."""
    entries = [_entry(seq, "message.sent", key) for seq, key in enumerate(["7", "8", "9"] * 2)]
    problems = _verdict(entries, {"once": ["message.sent"]}).problems
    assert [p.message.split(" happened")[0] for p in problems] == [
        "mailer message.sent for '7'",
        "mailer message.sent for '8'",
        "mailer message.sent for '9'",
    ]
    cause = "happened more than once for one business key, by more than one task"
    assert {(p.rule, p.subject, p.cause) for p in problems} == {
        ("duplicate", "mailer message.sent", cause)
    }
    assert len({p.fingerprint for p in problems}) == 1
