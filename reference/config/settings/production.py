"""Production settings: the seed's production overrides of Q_CLUSTER, and the web side served
over HTTPS only.

Everything deployment-specific comes from the environment (docs/platform.md, "Production");
``python manage.py check --deploy --settings config.settings.production`` reports no issue with
it. The platform is meant to sit behind a reverse proxy that terminates TLS (nginx, a load
balancer) and sets ``X-Forwarded-Proto`` on every request, overwriting whatever the client
sent; Django honours that header to tell HTTPS from HTTP (``DJANGO_BEHIND_TLS_PROXY=0`` when
the application server terminates TLS itself and no proxy header may be trusted).
"""

from config.environment import flag, integer, listed, required

# Read before base.py runs: without DATABASE_URL it would start the harness's embedded server,
# a throwaway test database (fsync off), which production must never use.
_SECRET_KEY = required("DJANGO_SECRET_KEY")
required("DATABASE_URL")

from .base import *  # noqa: E402, F403
from .base import Q_CLUSTER_BASE  # noqa: E402

DEBUG = False
SECRET_KEY = _SECRET_KEY  # base.py's development default is never used here
ALLOWED_HOSTS = listed("DJANGO_ALLOWED_HOSTS")

# HTTPS only: plain HTTP is redirected, cookies never leave over it, and browsers are told to
# use HTTPS for a year (subdomains included). ``preload`` only marks the header as eligible for
# the browsers' preload list; nothing is submitted unless someone does it for the apex domain.
if flag("DJANGO_BEHIND_TLS_PROXY", True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = integer("DJANGO_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Django's defaults cover the rest of check --deploy: nosniff, X-Frame-Options DENY,
# Referrer-Policy same-origin, the security and clickjacking middleware (config.settings.base).

Q_CLUSTER = {
    **Q_CLUSTER_BASE,
    "workers": 4,  # Multiple workers
    "recycle": 500,  # Restart workers after 500 tasks
    "save_limit": 10000,  # Keep more history
}
