"""Admin: customers and notifications."""

from django.contrib import admin

from apps.customers.models import Customer, Notification


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "is_active", "last_login_at")
    exclude = ("stripe_payment_method_id",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "customer", "status")
