"""Admin: subscriptions, invoices, payments, webhook events."""

from django.contrib import admin

from apps.billing.models import Invoice, Payment, Subscription, WebhookEvent

admin.site.register(Subscription, list_display=("pk", "customer", "plan", "status"))
admin.site.register(Invoice, list_display=("number", "customer", "amount_cents", "status"))
admin.site.register(Payment, list_display=("invoice", "attempt", "status", "scheduled_for"))
admin.site.register(WebhookEvent, list_display=("event_id", "type", "status", "attempts"))
