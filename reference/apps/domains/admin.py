"""Admin: domains and renewal intents."""

from django.contrib import admin

from apps.domains.models import Domain, RenewalIntent

admin.site.register(Domain, list_display=("name", "customer", "expires_at", "auto_renew", "status"))
admin.site.register(RenewalIntent, list_display=("domain", "period", "years", "status"))
