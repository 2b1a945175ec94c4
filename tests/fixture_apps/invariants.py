"""Invariants of the harness's own tests, over the reference platform's runs (and django-q2's
Schedule table, which every project has). Imported by ``harness judge`` without Django: models
are named by label only."""

from __future__ import annotations

import datetime as dt

from harness import invariant, rows

NOT_AN_INVARIANT = 42


@invariant(
    "schedules-ahead",
    nightly=rows("django_q.Schedule", "name", "next_run", when="daily"),
    at_end=rows("django_q.Schedule", "name", "func", "repeats"),
    retries=rows(
        "django_q.Schedule",
        "name",
        "next_run",
        when="after:apps.billing.tasks.retry_*",
        filter={"name__startswith": "billing-"},
    ),
)
def schedules_ahead(ctx, most=10):
    """No schedule's next run lags a scheduler pass behind at a midnight; at most ``most``
    schedules."""
    for taken in ctx.collected["nightly"]:
        for row in taken["rows"]:
            next_run = dt.datetime.fromisoformat(row["next_run"].replace("Z", "+00:00"))
            if next_run < taken["at"] - dt.timedelta(minutes=1):
                yield ctx.problem(
                    "behind",
                    row["name"],
                    "next run behind at midnight",
                    f"{row['name']}: next run {ctx.when(next_run)} at {ctx.when(taken['at'])}",
                    taken["at"],
                )
    final = ctx.collected["at_end"][-1]["rows"]
    if len(final) > most:
        names = ", ".join(row["name"] for row in final)
        yield ctx.problem(
            "too-many", "schedules", f"more than {most} schedules", f"{len(final)}: {names}"
        )


def no_failed_billing(ctx):
    """No billing task failed (a plain function: an invariant that collects nothing)."""
    return [
        ctx.problem("failed", e.data["func"], "a billing task failed", at=e.at)
        for e in ctx.timeline.of("task.finished", outcome="failed")
        if e.data["func"].startswith("apps.billing.")
    ]


@invariant("wrong-label", charges=rows("billing.Chrage", "id"))
def wrong_label(ctx):
    return None


@invariant("wrong-field", invoices=rows("billing.Invoice", "id", "totl"))
def wrong_field(ctx):
    return None


@invariant("wrong-when", invoices=rows("billing.Invoice", "id", when="weekly"))
def wrong_when(ctx):
    return None


@invariant("lost-jobs")
def named_like_a_builtin(ctx):
    return None


@invariant
def raises(ctx):
    raise RuntimeError("row 7 is odd")
