"""The runaway guard: a replay that stops making progress in virtual time ends as a verdict.

A ``post_save`` handler that re-enqueues the task whose save fires it makes tasks run without end
while the clock stands still (a fresh enqueue is visible one microsecond later). At one PRAHO
commit more than a thousand tasks ran at the start instant and the replay hung until Ctrl+C,
with nothing written. Two budgets (:class:`RunawayBudget`, a scenario's ``[runaway]`` table):

* **a chain**: a task enqueued by a running task — its body, or the hook or chain django-q2's
  monitor runs for it — less than a virtual second after that task was itself enqueued continues
  the task's chain; a chain longer than ``max_chain`` is a runaway;
* **an instant**: more than ``max_per_second`` executions, or enqueues, within one virtual
  second.

Crossing a budget raises :class:`RunawayStop` where it happens — a ``BaseException``, so no
``except Exception`` in project or django-q2 code swallows it — and the driver ends the run at
that instant with a ``runaway`` finding naming the chain's functions and, where it can tell, the
signal receiver, ``on_commit`` callback or hook that enqueued them.
"""

from __future__ import annotations

import datetime as dt
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

WINDOW = dt.timedelta(seconds=1)
"""Less than this between a task's enqueue and its child's is "no time passing"."""

enqueue_parent: ContextVar[tuple[str, str] | None] = ContextVar("harness_parent", default=None)
"""(task id, how) of the task whose monitor step runs now (a hook or a chain enqueues for it)."""


class RunawayStop(BaseException):
    """Raised where a budget is crossed; args: the finding's fields (a dict)."""


@dataclass(frozen=True)
class RunawayBudget:
    """How far a replay may go without virtual time passing."""

    max_chain: int = 1000
    max_per_second: int = 10_000

    def to_dict(self) -> dict[str, int]:
        return {"max_chain": self.max_chain, "max_per_second": self.max_per_second}


@dataclass(frozen=True)
class _Link:
    parent: str | None
    depth: int
    at: dt.datetime
    func: str
    via: Any  # what enqueued it (see _via), resolved to text only when reported


class RunawayGuard:
    """Counts chains and per-second work; raises :class:`RunawayStop` past the budget."""

    def __init__(self, budget: RunawayBudget | None = None) -> None:
        self.budget = budget or RunawayBudget()
        self.links: dict[str, _Link] = {}
        self._window: dt.datetime | None = None
        self._counts = {"executions": 0, "enqueues": 0}

    def enqueued(self, tid: str, func: str, now: dt.datetime, parent: Any) -> None:
        """A task was enqueued at ``now``; ``parent`` is (task id, how) of the task that
        enqueued it, or None (a load, a setup step, a scheduler pass)."""
        depth, via, parent_id = 1, None, None
        if parent is not None:
            parent_id, how = parent
            link = self.links.get(parent_id)
            if link is not None and now - link.at < WINDOW:
                depth = link.depth + 1
                via = how if how else _via()
        self.links[tid] = _Link(parent_id if depth > 1 else None, depth, now, func, via)
        if depth > self.budget.max_chain:
            raise RunawayStop(self._chain_finding(tid))
        self._count("enqueues", now)

    def started(self, now: dt.datetime) -> None:
        self._count("executions", now)

    def _count(self, what: str, now: dt.datetime) -> None:
        if self._window is None or now - self._window >= WINDOW:
            self._window = now
            self._counts = {"executions": 0, "enqueues": 0}
        self._counts[what] += 1
        if self._counts[what] > self.budget.max_per_second:
            raise RunawayStop(
                {
                    "runaway": "instant",
                    "what": what,
                    "count": self._counts[what],
                    "since": self._window,
                    "budget": f"max_per_second={self.budget.max_per_second}",
                }
            )

    def _chain_finding(self, tid: str) -> dict[str, Any]:
        links = []
        cursor: str | None = tid
        while cursor is not None and len(links) < 64:
            link = self.links[cursor]
            links.append(link)
            cursor = link.parent
        links.reverse()  # oldest first (the last 64 of the chain)
        depth = self.links[tid].depth
        return {
            "runaway": "chain",
            "chain": describe_chain([link.func for link in links], depth),
            "via": sorted({_via_text(link.via) for link in links if link.via is not None}),
            "depth": depth,
            "budget": f"max_chain={self.budget.max_chain}",
        }


def describe_chain(funcs: list[str], depth: int) -> str:
    """``a → b`` repeated: the shortest cycle that explains the chain's tail, or its last steps."""
    told = f"({depth} tasks, each enqueued by the one before)"
    for period in range(1, 6):
        tail = funcs[-period:]
        run = 0
        while run < len(funcs) and funcs[-1 - run] == tail[-1 - run % period]:
            run += 1
        if run >= 2 * period and run >= len(funcs) - 3:
            head = funcs[: len(funcs) - run]
            prefix = " → ".join(head) + " → " if head else ""
            return f"{prefix}[{' → '.join(tail)}] repeated {told}"
    return " → ".join(funcs[-6:]) + f" {told}"


# -- what enqueued a task ------------------------------------------------------------------------
_DISPATCHER = "django.dispatch.dispatcher"
_COMMIT_HOOKS = "run_and_clear_commit_hooks"


def _via() -> Any:
    """The signal receiver or ``on_commit`` callback on the stack of this enqueue, if any.

    Walks outwards from the enqueue; the first dispatcher frame is django-q2's own
    ``pre_enqueue`` (the harness listens to it) and is skipped."""
    frame = sys._getframe(2)
    inner = None
    seen_pre_enqueue = False
    for _ in range(80):
        if frame is None:
            return None
        code = frame.f_code
        module = frame.f_globals.get("__name__", "")
        if module == _DISPATCHER and code.co_name in ("send", "send_robust"):
            if not seen_pre_enqueue:
                seen_pre_enqueue = True
            elif inner is not None:
                return ("signal", frame.f_locals.get("self"), inner)
        elif code.co_name == _COMMIT_HOOKS and inner is not None:
            return ("on_commit", None, inner)
        inner = (frame.f_globals.get("__name__", "?"), code.co_qualname)
        frame = frame.f_back
    return None


def _via_text(via: Any) -> str:
    if isinstance(via, str):
        return via  # "hook" / "chain": set by the driver's monitor step
    kind, signal, (module, qualname) = via
    if kind == "on_commit":
        return f"on_commit callback {module}.{qualname}"
    return f"{_signal_name(signal)} receiver {module}.{qualname}"


def _signal_name(signal: Any) -> str:
    """A signal's name, found where Django, django-q2 and the project define them."""
    for name, module in list(sys.modules.items()):
        if module is None or not (
            name.startswith(("django.db.models.signals", "django.core.signals", "django_q."))
            or name.endswith("signals")
        ):
            continue
        for attr, value in list(getattr(module, "__dict__", {}).items()):
            if value is signal:
                return attr
    return "signal"
