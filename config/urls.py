"""URL routes: the Django admin (with django_q at /admin/django_q/) and the Stripe webhook."""

from django.contrib import admin
from django.urls import path

from apps.billing.webhooks import stripe_webhook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
]
