"""Admin: the audit trail (read-only) and locks."""

from django.contrib import admin

from apps.common.models import AuditEvent, TaskLock


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "event_type", "resource_id")
    list_filter = ("event_type",)
    search_fields = ("resource_id",)
    readonly_fields = ("event_type", "resource_id", "details", "created_at")


@admin.register(TaskLock)
class TaskLockAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "acquired_at", "expires_at")
