from django.contrib import admin

from .models import Charge, Customer, Subscription


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "stripe_customer_id", "created_at"]
    search_fields = ["email", "stripe_customer_id"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["customer", "plan", "amount_cents", "status", "renews_on"]
    list_filter = ["status", "plan"]


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    list_display = ["subscription", "period", "amount_cents", "status", "attempts", "next_retry_at"]
    list_filter = ["status"]
    readonly_fields = ["stripe_payment_intent_id"]
