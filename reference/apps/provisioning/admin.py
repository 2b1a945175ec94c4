"""Admin: servers (password never shown), services with provisioning actions, jobs."""

from django.contrib import admin, messages

from apps.provisioning import virtualmin_tasks
from apps.provisioning.models import HostingService, ProvisioningJob, VirtualminServer


@admin.register(VirtualminServer)
class VirtualminServerAdmin(admin.ModelAdmin):
    list_display = ("name", "hostname", "api_port", "scheme", "is_active", "is_healthy")
    exclude = ("password",)


@admin.action(description="Provision selected services on Virtualmin")
def provision(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    for service in queryset:
        virtualmin_tasks.provision_virtualmin_account_async(service.pk)
    messages.info(request, f"Queued provisioning for {queryset.count()} service(s)")


@admin.action(description="Suspend selected services")
def suspend(modeladmin, request, queryset):  # type: ignore[no-untyped-def]
    for service in queryset:
        virtualmin_tasks.suspend_virtualmin_account_async(service.pk)
    messages.info(request, f"Queued suspension for {queryset.count()} service(s)")


@admin.register(HostingService)
class HostingServiceAdmin(admin.ModelAdmin):
    list_display = ("domain", "customer", "server", "status")
    actions = [provision, suspend]


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "service", "operation", "status", "retry_count", "next_retry_at")
    list_filter = ("status", "operation")
