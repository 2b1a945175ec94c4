"""``seed_demo_data``: the development data set (idempotent; the seed's "Test data setup").

An admin user, one Virtualmin server (``--virtualmin-url``), a customer with a pending hosting
service, a subscription billed on the 1st of next month and a domain expiring in 20 days.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from apps.billing.models import Subscription
from apps.customers.models import Customer
from apps.domains.models import Domain
from apps.provisioning.models import HostingService, VirtualminServer

DEMO_DOMAIN = "demo-shop.ro"


class Command(BaseCommand):
    help = "Create (or update) the development demo data"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--virtualmin-url",
            default=os.environ.get("VIRTUALMIN_DEV_URL", "http://127.0.0.1:10000"),
            help="scheme://host:port of the development Virtualmin (default: the local fake)",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        url = urlsplit(options["virtualmin_url"])
        if url.scheme not in ("http", "https") or not url.hostname:
            raise CommandError(f"--virtualmin-url {options['virtualmin_url']!r} is not a URL")
        now = timezone.now()
        user_model = get_user_model()
        if not user_model.objects.filter(username="admin").exists():
            user_model.objects.create_superuser(
                "admin", "admin@praho.example", os.environ.get("DEV_ADMIN_PASSWORD", "admin")
            )
        server, _ = VirtualminServer.objects.update_or_create(
            name="dev-virtualmin",
            defaults={
                "hostname": url.hostname,
                "api_port": url.port or (443 if url.scheme == "https" else 80),
                "scheme": url.scheme,
                "username": os.environ.get("VIRTUALMIN_DEV_USER", "admin"),
                "password": os.environ.get("VIRTUALMIN_DEV_PASSWORD", "secret"),
                "verify_tls": url.scheme == "https",
            },
        )
        customer, _ = Customer.objects.get_or_create(
            email="demo@praho.example",
            defaults={
                "name": "Demo Customer",
                "created_at": now,
                "last_login_at": now,
                "stripe_payment_method_id": "pm_card_visa",
            },
        )
        service, _ = HostingService.objects.get_or_create(
            domain=DEMO_DOMAIN,
            defaults={
                "customer": customer,
                "server": server,
                "username": "demoshop",
                "created_at": now,
                "updated_at": now,
            },
        )
        first_of_next_month = (timezone.localdate().replace(day=1) + dt.timedelta(days=32)).replace(
            day=1
        )
        Subscription.objects.get_or_create(
            customer=customer,
            service=service,
            defaults={
                "plan": "Starter",
                "amount_cents": 1999,
                "currency": "eur",
                "next_billing_date": first_of_next_month,
                "created_at": now,
            },
        )
        Domain.objects.get_or_create(
            name=DEMO_DOMAIN,
            defaults={"customer": customer, "expires_at": now + dt.timedelta(days=20)},
        )
        self.stdout.write(f"🔧 Demo data ready: service {service.pk} ({DEMO_DOMAIN}) on {server}")
