"""URL routes: the Django admin (with django_q at /admin/django_q/), the Stripe webhook, and the
task operations pages: the staff dashboard, its JSON and the Prometheus metrics."""

from django.contrib import admin
from django.urls import path

from apps.billing.webhooks import stripe_webhook
from apps.common.dashboard import dashboard, prometheus_metrics
from apps.common.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
    path("ops/health/", health, name="ops-health"),
    path("ops/dashboard/", dashboard, name="ops-dashboard"),
    path("ops/metrics", prometheus_metrics, name="ops-metrics"),
]
