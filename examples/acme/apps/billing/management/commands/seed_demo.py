from django.core.management.base import BaseCommand

from apps.billing.demo import seed


class Command(BaseCommand):
    help = "Create demo customers and subscriptions (needs STRIPE_* pointing at Stripe test mode)"

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=20)
        parser.add_argument("--declining", type=int, default=2)
        parser.add_argument(
            "--renews-on", default=None, help="ISO date; default: spread over a week"
        )

    def handle(self, *args, **options):
        created = seed(options["customers"], options["declining"], options["renews_on"])
        self.stdout.write(self.style.SUCCESS(f"{created} demo customers created"))
