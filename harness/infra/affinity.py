"""Co-locate a simulation and its PostgreSQL backend on one CPU.

Why: the driver is one thread in lock-step with its database backend; every statement is a
round trip, and each round trip wakes the other side. On virtual machines a wake-up across
CPUs is expensive: on the 2-core KVM guest this project is measured on, ``SELECT 1`` takes
300–450 µs when the client and its backend sit on different CPUs and 60–90 µs when they share
one (docs/driver.md, "CPU co-location"). The two never run at the same time anyway, so sharing
a CPU costs nothing and the round trip becomes a local context switch.

What it touches, and only while a simulation is open: the CPU affinity of the calling thread
(threads it starts later inherit it) and of the one backend serving Django's ``default``
connection. Both are restored on release. It does nothing (and says why in ``reason``) when
the server is not on this machine, the platform has no ``sched_setaffinity``, only one CPU is
usable, or ``HARNESS_COLOCATE=0``. Timelines do not depend on it: it changes speed only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "HARNESS_COLOCATE"

_active: list[Colocation] = []  # pinned right now (a stack: simulations may nest)


@dataclass
class Colocation:
    """The outcome of :func:`colocate`: ``cpu`` is None when nothing was pinned (see ``reason``)."""

    cpu: int | None
    reason: str
    backend_pid: int | None = None
    _saved: dict[int, set[int]] = field(default_factory=dict, repr=False)

    def release(self) -> None:
        """Give the thread and the backend their CPUs back (idempotent)."""
        for pid, cpus in self._saved.items():
            with contextlib.suppress(OSError):  # the backend may be gone
                os.sched_setaffinity(pid, cpus)
        self._saved.clear()
        if self in _active:
            _active.remove(self)


def widened_affinity() -> set[int] | None:
    """The CPUs the process had before any co-location, if one is active (for subprocesses)."""
    return set(_active[0]._saved[0]) if _active else None


def colocate(connection: Any, *, worker: str | None = None) -> Colocation:
    """Pin the calling thread and ``connection``'s backend to one CPU; see the module docstring.

    ``connection`` is a Django connection or a psycopg one.

    ``worker`` picks the CPU deterministically (pytest-xdist's ``gw3`` → the 4th usable CPU,
    modulo their number) so parallel workers do not share one; otherwise the CPU this thread
    runs on now.
    """
    if os.environ.get(ENV_VAR, "1").strip().lower() in {"0", "false", "no", "off"}:
        return Colocation(None, f"{ENV_VAR}=0")
    # A Django connection (``vendor``) or a bare psycopg one (no ``vendor``): both have cursor().
    if not hasattr(os, "sched_setaffinity") or getattr(connection, "vendor", "postgresql") != (
        "postgresql"
    ):
        return Colocation(None, "not Linux with PostgreSQL")
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return Colocation(None, "one usable CPU")
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid(), inet_server_addr()")
        pid, addr = cur.fetchone()
    if addr is not None and not ipaddress.ip_address(str(addr).split("/")[0]).is_loopback:
        return Colocation(None, f"server at {addr} is not on this machine")
    if not _is_local_postgres(pid):
        return Colocation(None, f"backend {pid} is not a local process (a container?)")
    cpu = allowed[_worker_index(worker) % len(allowed)] if worker else _current_cpu(allowed)
    saved = {0: set(os.sched_getaffinity(0)), pid: set(os.sched_getaffinity(pid))}
    try:
        os.sched_setaffinity(pid, {cpu})
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:  # another user's server without CAP_SYS_NICE
        for p, cpus in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(p, cpus)
        return Colocation(None, f"cannot pin: {exc.strerror}")
    col = Colocation(cpu, "pinned", pid, saved)
    _active.append(col)
    return col


def _is_local_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip().startswith("postgres")
    except OSError:
        return False


def _worker_index(worker: str) -> int:
    digits = "".join(ch for ch in worker if ch.isdigit())
    return int(digits) if digits else 0


def _current_cpu(allowed: list[int]) -> int:
    try:  # field 39 of /proc/self/stat: the CPU this thread last ran on
        cpu = int(Path("/proc/thread-self/stat").read_text().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return allowed[-1]
    return cpu if cpu in allowed else allowed[-1]
