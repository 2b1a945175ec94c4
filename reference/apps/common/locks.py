"""A distributed lock that holds across processes (the seed's "Distributed Locking Pattern").

The seed's ``cache.get`` then ``cache.set`` is a race (both contenders see "free"), and its
``finally: cache.delete`` releases a lock that may by then belong to someone else. This lock
acquires atomically (see :class:`apps.common.models.TaskLock`), releases only its own lease
and expires on its own if the holder dies.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.common.models import TaskLock

_ACQUIRE_SQL = f"""
INSERT INTO {TaskLock._meta.db_table} (name, owner, acquired_at, expires_at)
VALUES (%s, %s, %s, %s)
ON CONFLICT (name) DO UPDATE
    SET owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at,
        expires_at = EXCLUDED.expires_at
    WHERE {TaskLock._meta.db_table}.expires_at <= EXCLUDED.acquired_at
RETURNING owner
"""


def acquire(name: str, ttl_seconds: int) -> str | None:
    """Take the lease ``name`` for ``ttl_seconds``; return the owner token, or None if held."""
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ACQUIRE_SQL, [name, token, now, now + timedelta(seconds=ttl_seconds)])
        row = cursor.fetchone()
    return token if row and row[0] == token else None


def release(name: str, token: str) -> bool:
    """Give the lease back, only if we still own it (never someone else's)."""
    deleted, _ = TaskLock.objects.filter(name=name, owner=token).delete()
    return deleted > 0


@contextlib.contextmanager
def distributed_lock(name: str, ttl_seconds: int) -> Iterator[bool]:
    """``with distributed_lock("x", 600) as acquired: if not acquired: return ...``."""
    token = acquire(name, ttl_seconds)
    try:
        yield token is not None
    finally:
        if token is not None:
            release(name, token)
