"""The receipt a customer gets by email after each successful charge."""

from django.utils import timezone

from apps.common import mail

from .models import Charge


def render(charge):
    subscription = charge.subscription
    return (
        f"Hello {subscription.customer.name or subscription.customer.email},\n\n"
        f"we charged ${charge.amount_cents / 100:.2f} to your card for the Acme "
        f"{subscription.get_plan_display()} plan, period starting {charge.period.isoformat()}.\n"
        f"Payment reference: {charge.stripe_payment_intent_id}\n\n"
        "Thank you,\nAcme Billing\n"
    )


def send(charge_id):
    """Email the receipt of a succeeded charge once; returns the provider's message id."""
    charge = Charge.objects.select_related("subscription__customer").get(pk=charge_id)
    if charge.status != Charge.Status.SUCCEEDED:
        return None
    if charge.receipt_message_id:
        return charge.receipt_message_id
    message_id = mail.send_message(
        to=charge.subscription.customer.email,
        subject=f"Your Acme receipt for {charge.period:%B %Y}",
        text=render(charge),
        variables={"charge": charge.pk},
        tags=["receipt"],
    )
    charge.receipt_message_id = message_id
    charge.receipt_sent_at = timezone.now()
    charge.save(update_fields=["receipt_message_id", "receipt_sent_at", "updated_at"])
    return message_id
