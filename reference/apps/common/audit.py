"""The seed's audit integration: ``AuditService.log_event(event_type, resource_id, details)``."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from apps.common.models import AuditEvent
from apps.common.security import sanitize


class AuditService:
    """Append-only audit trail; details are sanitized so no credential is ever stored."""

    @staticmethod
    def log_event(event_type: str, resource_id: str | int, details: dict[str, Any]) -> AuditEvent:
        return AuditEvent.objects.create(
            event_type=event_type,
            resource_id=str(resource_id),
            details=sanitize(details),
            created_at=timezone.now(),
        )
