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
from dataclasses import dataclass
from typing import Any

from harness.checkers import RunContext, Verdict, call_repr, enqueued_calls
from harness.checkers.problems import Problem
from harness.record.timeline import TASK_FINISHED, TASK_STARTED

NAME = "audit"
DEFAULT_REQUIRE = ("effects",)
DOC = "every execution with an external effect or a failure left an audit row (if configured)"


@dataclass(frozen=True)
class Options:
    model: str | None = None  # app_label.Model (else the setting HARNESS_AUDIT_MODEL)
    time_field: str = "created_at"
    require: tuple[str, ...] = DEFAULT_REQUIRE
    funcs: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()


def options(r: Any) -> Options:
    model = r.get("model", str, default=None)
    if model is not None and model.count(".") != 1:
        r.fail(f"{model!r} is not 'app_label.ModelName'", "model")
    require = r.get("require", list, default=list(DEFAULT_REQUIRE))
    for i, item in enumerate(require):
        if item not in ("effects", "failures", "all"):
            r.fail(f"{item!r} is not one of effects, failures, all", f"require[{i}]")
    funcs = r.get("funcs", list, default=None)
    return Options(
        model=model,
        time_field=r.get("time_field", str, default="created_at"),
        require=tuple(require),
        funcs=None if funcs is None else tuple(funcs),
        exclude=tuple(r.get("exclude", list, default=[])),
    )


def check(ctx: RunContext) -> Verdict:
    audit = ctx.audit
    wanted = ctx.options(NAME).model
    if audit is None and not wanted:
        return Verdict(NAME, True, "no audit model configured: nothing to check")
    if audit is None or (wanted and wanted.lower() != audit["model"].lower()):
        message = f"rows of {wanted} were not recorded in this run" + (
            f" (only {audit['model']})" if audit is not None else ""
        )
        cause = "its rows were not recorded in this run"
        problem = Problem(NAME, "model-not-recorded", str(wanted), cause, message)
        return Verdict.of(NAME, [problem], "", message)
    label = audit["model"]
    runs, effects, failed = _required_runs(ctx)
    rows_at = Counter(row["at"] for row in audit["rows"])
    enq = enqueued_calls(ctx)
    problems = []
    for at, started in sorted(runs.items()):
        if rows_at.get(at, 0) >= len(started):
            continue
        for e in started:
            src = enq.get(e.data["task"], e)
            what = call_repr(e.data["func"], src.data.get("args"), src.data.get("kwargs"))
            message = (
                f"{what} (task {e.data['task'][:8]} attempt {e.data['attempt']}) ran at "
                f"{ctx.when(at)} and left {rows_at.get(at, 0)} {label} rows"
            )
            run = (e.data["task"], e.data["attempt"])
            cause = _cause(run, effects, failed, label)
            problems.append(Problem(NAME, "unaudited", e.data["func"], cause, message, at))
    total = sum(len(v) for v in runs.values())
    first = problems[0].message if problems else ""
    return Verdict.of(
        NAME,
        problems,
        f"{total} audited executions, each left a {label} row",
        f"{len(problems)} unaudited executions; first: {first}",
    )


def _cause(run: Any, effects: set[Any], failed: set[Any], label: str) -> str:
    """Why the execution had to be audited, which is what tells one omission from another."""
    if run in effects:
        return f"an execution with an external effect left no {label} row"
    if run in failed:
        return f"a failed execution left no {label} row"
    return f"an execution left no {label} row"


def _required_runs(ctx: RunContext) -> tuple[dict[Any, list[Any]], set[Any], set[Any]]:
    """The start events of the executions that must be audited, by start instant; and the
    (task, attempt) runs that had an external effect, and those that failed."""
    opts = ctx.options(NAME)
    funcs, exclude = opts.funcs, set(opts.exclude)
    require = set(opts.require or DEFAULT_REQUIRE)
    effects = {
        (entry.task_id, entry.attempt)
        for entry in (ctx.ledger.entries() if ctx.ledger is not None else [])
        if entry.effect and entry.task_id
    }
    failed = {
        (e.data["task"], e.data["attempt"])
        for e in ctx.timeline.of(TASK_FINISHED, outcome="failed")
    }
    runs: dict[Any, list[Any]] = {}
    for e in ctx.timeline.of(TASK_STARTED):
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
    return runs, effects, failed
