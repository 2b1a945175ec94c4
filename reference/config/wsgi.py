"""WSGI entry point: the production settings unless ``DJANGO_SETTINGS_MODULE`` says otherwise.

A web server imports this only to serve the platform for real, so it defaults to production
(``manage.py``, for development, defaults to the development settings). A missing or malformed
environment variable is one line on stderr and exit 2, not a traceback from the settings.
"""

import os

from django.core.wsgi import get_wsgi_application

from config.environment import exit_on_misconfiguration

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
with exit_on_misconfiguration("config.wsgi"):
    application = get_wsgi_application()
