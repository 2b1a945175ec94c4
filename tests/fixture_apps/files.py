"""Task code that writes files through Django's storage, as PRAHO's audit export does."""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_q.tasks import async_task


def export(n: int) -> dict[str, str]:
    """Save an export file; return where it went (the storage's path and MEDIA_ROOT)."""
    name = default_storage.save(f"exports/export-{n}.csv", ContentFile(b"id,total\n1,100\n"))
    return {"path": default_storage.path(name), "media_root": str(settings.MEDIA_ROOT)}


def enqueue_export(n: int) -> str:
    return async_task("tests.fixture_apps.files.export", n)
