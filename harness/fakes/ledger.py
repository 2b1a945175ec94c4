"""The effect ledger: what every fake was asked and what it did, at virtual time.

Retry-storm and duplicate-effect checks need to know, per business key, which external effects
really happened (a domain created, a card charged) and which task attempt caused them. Every
request a fake serves becomes one :class:`LedgerEntry`; ``effect`` is set when the request
changed the fake's state. The ledger is shared by all fakes of a run and is thread-safe because
the real-HTTP transport records from werkzeug's server threads.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Header the harness sets on outgoing calls: the Django-Q2 task id that made the call.
TASK_HEADER = "X-Harness-Task-Id"
#: Header the harness sets on outgoing calls: the attempt number (1-based) of that task.
ATTEMPT_HEADER = "X-Harness-Attempt"


@dataclass(frozen=True)
class LedgerEntry:
    """One request served by a fake; ``effect`` is None for reads and refused requests."""

    seq: int
    at: datetime
    fake: str
    method: str
    path: str
    operation: str
    business_key: str | None
    effect: str | None
    status: int
    fault: str | None
    task_id: str | None
    attempt: int | None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form with the field order above, an ISO time and sorted detail keys."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "at":
                value = value.isoformat()
            elif f.name == "detail":
                value = _sorted(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerEntry:
        """The entry :meth:`to_dict` wrote (a saved run's ledger)."""
        return cls(**{**data, "at": datetime.fromisoformat(data["at"])})


def _sorted(value: Any) -> Any:
    """Recursively sort dict keys so encodings are byte-identical across runs."""
    if isinstance(value, dict):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


class Ledger:
    """Append-only, thread-safe record of requests and effects, timestamped by ``now()``."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.RLock()
        self._entries: list[LedgerEntry] = []
        self._subscribers: list[Callable[[LedgerEntry], None]] = []

    def record(
        self,
        *,
        fake: str,
        method: str,
        path: str,
        operation: str,
        status: int,
        business_key: str | None = None,
        effect: str | None = None,
        fault: str | None = None,
        task_id: str | None = None,
        attempt: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> LedgerEntry:
        """Append one entry (seq and time assigned here) and tell subscribers, in order."""
        with self._lock:
            entry = LedgerEntry(
                seq=len(self._entries) + 1,
                at=self._now(),
                fake=fake,
                method=method,
                path=path,
                operation=operation,
                business_key=business_key,
                effect=effect,
                status=status,
                fault=fault,
                task_id=task_id,
                attempt=attempt,
                detail=_sorted(dict(detail or {})),
            )
            self._entries.append(entry)
            # Called under the lock so every subscriber sees entries in seq order.
            for callback in list(self._subscribers):
                callback(entry)
            return entry

    def entries(self, fake: str | None = None) -> list[LedgerEntry]:
        """All entries (a copy), optionally only those of one fake."""
        with self._lock:
            return [e for e in self._entries if fake is None or e.fake == fake]

    def effects(self, effect: str | None = None, fake: str | None = None) -> list[LedgerEntry]:
        """Entries that changed state, optionally of one effect and/or one fake."""
        return [
            e
            for e in self.entries(fake)
            if e.effect is not None and (effect is None or e.effect == effect)
        ]

    def to_dicts(self) -> list[dict[str, Any]]:
        """JSON-able entries (stable key order, ISO-8601 times)."""
        return [e.to_dict() for e in self.entries()]

    def to_json_lines(self) -> str:
        """One compact JSON object per line; byte-identical for identical runs."""
        return "".join(
            json.dumps(d, separators=(",", ":"), ensure_ascii=False) + "\n" for d in self.to_dicts()
        )

    def subscribe(self, callback: Callable[[LedgerEntry], None]) -> Callable[[], None]:
        """Call ``callback(entry)`` for every new entry; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def clear(self) -> None:
        """Forget all entries (subscribers stay); seq restarts at 1."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LedgerEntry]:
        return iter(self.entries())
