"""``POST /webhooks/stripe/``: verified with ``stripe.Webhook.construct_event``.

Deduplication counts only *processed* events: an event whose handling failed answers 500 and
is handled again when Stripe redelivers it (PRAHO once answered 200 "duplicate" to those, so
Stripe stopped retrying and the payment was never settled).
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.billing import tasks
from apps.billing.models import Payment, WebhookEvent
from apps.common.audit import AuditService
from apps.common.security import safe_error

logger = logging.getLogger(__name__)


def _payment_for(intent: Any) -> Payment | None:
    intent_id = str(intent.get("id", ""))
    payment = (
        Payment.objects.filter(stripe_payment_intent_id=intent_id).first() if intent_id else None
    )
    if payment is None:
        metadata = intent.get("metadata") or {}
        invoice_id, attempt = metadata.get("invoice_id"), metadata.get("attempt")
        if invoice_id and attempt and str(invoice_id).isdigit() and str(attempt).isdigit():
            payment = Payment.objects.filter(
                invoice_id=int(invoice_id), attempt=int(attempt)
            ).first()
    return payment


def handle_event(event: Any) -> str:
    """Apply one verified event; returns what was done."""
    if event["type"] not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return "ignored"
    intent = event["data"]["object"]
    payment = _payment_for(intent)
    if payment is None:
        return "unknown payment"
    if event["type"] == "payment_intent.succeeded":
        return "paid" if tasks._mark_paid(payment.pk, str(intent.get("id", ""))) else "already paid"
    error = intent.get("last_payment_error") or {}
    tasks._declined(
        payment.pk,
        str(intent.get("id", "")),
        str(error.get("decline_code") or error.get("code") or "card_declined"),
        safe_error(str(error.get("message") or "declined")),
    )
    return "declined"


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        verified = stripe.Webhook.construct_event(
            request.body, request.headers.get("Stripe-Signature"), settings.STRIPE_WEBHOOK_SECRET
        )
    except (ValueError, stripe.SignatureVerificationError) as exc:
        logger.error(f"❌ [Billing] Rejected webhook: {type(exc).__name__}")
        return JsonResponse({"error": "invalid payload or signature"}, status=400)
    event = verified.to_dict()
    now = timezone.now()
    with transaction.atomic():
        record, _ = WebhookEvent.objects.select_for_update().get_or_create(
            event_id=event["id"], defaults={"type": event["type"], "received_at": now}
        )
        if record.status == WebhookEvent.Status.PROCESSED:
            return JsonResponse({"status": "duplicate"})
        record.attempts += 1
        try:
            with transaction.atomic():
                action = handle_event(event)
        except Exception as exc:
            record.status = WebhookEvent.Status.FAILED
            record.error = safe_error(exc)
            record.save()
            logger.exception(f"💥 [Billing] Webhook {record.event_id} failed")
            return JsonResponse({"error": "processing failed"}, status=500)
        record.status = WebhookEvent.Status.PROCESSED
        record.processed_at = now
        record.error = ""
        record.save()
    AuditService.log_event(
        "webhook.processed", event["id"], {"type": event["type"], "action": action}
    )
    logger.info(f"✅ [Billing] Webhook {event['id']} ({event['type']}): {action}")
    return JsonResponse({"status": "processed", "action": action})
