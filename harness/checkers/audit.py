"""Audit completeness: every execution that changed the outside world or failed left an audit row.

Configured by ``[expect.audit] model = "app_label.Model"`` (or the setting
``HARNESS_AUDIT_MODEL``; the runner snapshots its rows at the end of the run), with
``time_field`` (default ``created_at``), ``require`` (which executions must be audited:
``"effects"`` — it caused an external effect in the fakes' ledger, ``"failures"`` — it failed,
``"all"``; default ``["effects"]``: auditing failures is a convention of some platforms, such
as the reference one, not a rule) and optionally ``funcs`` or ``exclude``. A project without an
audit model is not judged: the verdict says so. Under the virtual clock a task's code runs at
its start instant, so its audit rows carry exactly that time: executions and rows are matched
per instant.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, enqueued_calls, limit

NAME = "audit"
DEFAULT_REQUIRE = ("effects",)
DOC = "every execution with an external effect or a failure left an audit row (if configured)"


def options(r: Any) -> dict[str, Any]:
    model = r.get("model", str, default=None)
    if model is not None and model.count(".") != 1:
        r.fail(f"{model!r} is not 'app_label.ModelName'", "model")
    require = r.get("require", list, default=list(DEFAULT_REQUIRE))
    for i, item in enumerate(require):
        if item not in ("effects", "failures", "all"):
            r.fail(f"{item!r} is not one of effects, failures, all", f"require[{i}]")
    return {
        "require": require,
        "model": model,
        "time_field": r.get("time_field", str, default="created_at"),
        "funcs": r.get("funcs", list, default=None),
        "exclude": r.get("exclude", list, default=[]),
    }


def check(ctx: RunContext) -> Verdict:
    audit = ctx.audit
    wanted = ctx.options(NAME).get("model")
    if audit is None:
        if wanted:
            return Verdict(NAME, False, f"rows of {wanted} were not recorded in this run")
        return Verdict(NAME, True, "no audit model configured: nothing to check")
    if wanted and wanted.lower() != audit["model"].lower():
        return Verdict(
            NAME, False, f"rows of {wanted} were not recorded in this run (only {audit['model']})"
        )
    label = audit["model"]
    opts = ctx.options(NAME)
    funcs, exclude = opts.get("funcs"), set(opts.get("exclude") or [])
    require = set(opts.get("require") or DEFAULT_REQUIRE)
    rows_at = Counter(row["at"] for row in audit["rows"])
    effects = {
        (entry.task_id, entry.attempt)
        for entry in (ctx.ledger.entries() if ctx.ledger is not None else [])
        if entry.effect and entry.task_id
    }
    failed = {
        (e.data["task"], e.data["attempt"])
        for e in ctx.timeline.of("task.finished", outcome="failed")
    }
    runs: dict[Any, list[Any]] = {}
    for e in ctx.timeline.of("task.started"):
        func = e.data["func"]
        if func in exclude or (funcs is not None and func not in funcs):
            continue
        run = (e.data["task"], e.data["attempt"])
        if not (
            "all" in require
            or ("effects" in require and run in effects)
            or ("failures" in require and run in failed)
        ):
            continue
        runs.setdefault(e.at, []).append(e)
    enq = enqueued_calls(ctx)
    evidence = []
    for at, started in sorted(runs.items()):
        if rows_at.get(at, 0) >= len(started):
            continue
        for e in started:
            src = enq.get(e.data["task"], e)
            what = call_repr(e.data["func"], src.data.get("args"), src.data.get("kwargs"))
            evidence.append(
                f"{what} (task {e.data['task'][:8]} attempt {e.data['attempt']}) ran at "
                f"{ctx.when(at)} and left {rows_at.get(at, 0)} {label} rows"
            )
    total = sum(len(v) for v in runs.values())
    if not evidence:
        return Verdict(NAME, True, f"{total} audited executions, each left a {label} row")
    return Verdict(
        NAME, False, f"{len(evidence)} unaudited executions; first: {evidence[0]}", limit(evidence)
    )
