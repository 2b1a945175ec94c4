"""django-q2's own Task rows, read from a project's database or an export, for measured run times.

What a row's times mean (django-q2 1.9–1.11, ``tasks.py``, ``worker.py``, ``monitor.py``):
``started`` is set by ``async_task`` when the task is **enqueued** (the scheduler enqueues
through it too), ``stopped`` by the worker when the function returns. So ``stopped - started``
is the queue wait plus one execution, and the two clocks may be two hosts'. When an attempt
fails and the broker redelivers the task, ``monitor.save_task`` updates the same row: it keeps
the first ``started`` and sets the last ``stopped`` and ``attempt_count + 1``. A row with
``attempt_count > 1`` therefore spans several attempts and the retry waits between them; only
rows with ``attempt_count == 1`` measure one execution and are kept.

Three sources: a ``postgresql://`` URL (read-only, table ``django_q_task``), the JSON of
``python manage.py dumpdata django_q.task``, or a JSON list of ``{func, started, stopped}``
objects (``attempt_count`` and ``success`` optional). A URL's password is never shown.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from harness.errors import HarnessError

TABLE = "django_q_task"
DUMPDATA_MODELS = {"django_q.task", "django_q.success", "django_q.failure"}
URL_SCHEMES = ("postgres://", "postgresql://")


@dataclass(frozen=True)
class Row:
    func: str
    seconds: float  # stopped - started
    attempts: int | None  # None: the source does not say
    success: bool | None = None


@dataclass
class Measured:
    """Run times per function, and what was left out and why."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rows: int = 0
    excluded: dict[str, int] = field(default_factory=lambda: {"retried": 0, "negative": 0})
    attempts_known: bool = True


def is_url(source: str) -> bool:
    return source.startswith(URL_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password (in the user info or a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _scrub(text: str, url: str) -> str:
    """An error message with the URL's password (if any) taken out."""
    parts = urlsplit(url)
    secrets = [parts.password or ""]
    secrets += [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return " ".join(text.split())


def read_rows(source: str) -> Iterator[Row]:
    """The Task rows of ``source`` (a URL or a JSON file), streamed; :class:`HarnessError` if
    unreadable."""
    return _from_database(source) if is_url(source) else iter(_from_file(Path(source)))


def _from_database(url: str) -> Iterator[Row]:
    import psycopg

    shown = redact(url)
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.read_only = True  # a production database: never write
            if conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
                raise HarnessError(f"{shown}: no {TABLE} table (is it the project's database?)")
            cols = {
                name
                for (name,) in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                    "AND attnum > 0 AND NOT attisdropped",
                    (TABLE,),
                ).fetchall()
            }
            attempts = "attempt_count" if "attempt_count" in cols else "NULL"
            query = (
                "SELECT func, EXTRACT(EPOCH FROM stopped - started)::float8, "
                f"{attempts}, success FROM {TABLE} WHERE started IS NOT NULL "
                "AND stopped IS NOT NULL"
            )
            with conn.cursor(name="dq_harness_task_rows") as cur:  # server-side: streamed
                cur.execute(query)
                for func, seconds, attempt_count, success in cur:
                    yield Row(func, seconds, attempt_count, success)
    except HarnessError:
        raise
    except Exception as exc:
        raise HarnessError(f"{shown}: cannot read Task rows: {_scrub(str(exc), url)}") from None


def _from_file(path: Path) -> list[Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read Task rows: {exc}") from None
    if not isinstance(data, list):
        raise HarnessError(
            f"{path}: expected a JSON list (manage.py dumpdata django_q.task, or "
            "[{func, started, stopped}, …])"
        )
    rows = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise HarnessError(f"{path}: [{i}]: expected an object")
        if "model" in item:  # dumpdata: {"model": "django_q.task", "pk": …, "fields": {…}}
            if item["model"] not in DUMPDATA_MODELS:
                continue
            fields, where = item.get("fields"), f"[{i}].fields"
        else:
            fields, where = item, f"[{i}]"
        if not isinstance(fields, dict):
            raise HarnessError(f"{path}: {where}: expected an object")
        rows.append(_row(path, where, fields))
    return rows


def _row(path: Path, where: str, fields: dict[str, Any]) -> Row:
    func = fields.get("func")
    if not isinstance(func, str) or not func:
        raise HarnessError(f"{path}: {where}.func: expected the task's dotted path")
    started = _time(path, f"{where}.started", fields.get("started"))
    stopped = _time(path, f"{where}.stopped", fields.get("stopped"))
    try:
        seconds = (stopped - started).total_seconds()
    except TypeError:
        raise HarnessError(
            f"{path}: {where}: started and stopped mix times with and without a UTC offset"
        ) from None
    attempts = fields.get("attempt_count")
    if attempts is not None and (not isinstance(attempts, int) or isinstance(attempts, bool)):
        raise HarnessError(f"{path}: {where}.attempt_count: expected a whole number")
    success = fields.get("success")
    if success is not None and not isinstance(success, bool):
        raise HarnessError(f"{path}: {where}.success: expected true or false")
    return Row(func, seconds, attempts, success)


def _time(path: Path, where: str, raw: Any) -> dt.datetime:
    if not isinstance(raw, str):
        raise HarnessError(f"{path}: {where}: expected an ISO-8601 date-time, got {raw!r}")
    try:
        return dt.datetime.fromisoformat(raw)
    except ValueError:
        raise HarnessError(f"{path}: {where}: {raw!r} is not an ISO-8601 date-time") from None


def measure(rows: Iterable[Row]) -> Measured:
    """Keep the rows that time one execution: ``attempt_count == 1`` (or unknown), and
    ``stopped`` not before ``started`` (two hosts' clocks)."""
    out = Measured()
    for row in rows:
        out.rows += 1
        if row.attempts is None:
            out.attempts_known = False
        elif row.attempts != 1:
            out.excluded["retried"] += 1
            continue
        if row.seconds < 0:
            out.excluded["negative"] += 1
            continue
        out.seconds[row.func].append(row.seconds)
        if row.success is False:
            out.failed[row.func] += 1
    return out
