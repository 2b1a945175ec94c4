"""Transactional email through the mail provider's HTTP API (Mailgun's v3 messages endpoint).

Settings: MAILER_API_BASE, MAILER_DOMAIN, MAILER_API_KEY (HTTP Basic, user ``api``), MAILER_FROM.
"""

import logging
import time

import requests
from django.conf import settings

from . import outbound

logger = logging.getLogger(__name__)

RETRIES = 2  # a message is tried at most three times
BACKOFF_SECONDS = 0.25  # doubled after every failed attempt


class MailError(Exception):
    """The provider did not accept the message."""


def send_message(to, subject, text, variables=None, tags=()):
    """Send one message; returns the provider's message id.

    Transient failures (the network, a 429 or a 5xx answer) are retried with a short backoff.
    ``variables`` travel with the message (``v:name``) and come back in the provider's events.
    """
    url = f"{settings.MAILER_API_BASE.rstrip('/')}/v3/{settings.MAILER_DOMAIN}/messages"
    data = [("from", settings.MAILER_FROM), ("to", to), ("subject", subject), ("text", text)]
    data += [("o:tag", tag) for tag in tags]
    data += [(f"v:{name}", str(value)) for name, value in (variables or {}).items()]
    auth = ("api", settings.MAILER_API_KEY)
    for attempt in range(1, RETRIES + 2):
        try:
            response = outbound.request("POST", url, data=data, auth=auth)
        except requests.RequestException as exc:
            error = exc
        else:
            if response.status_code == 429 or response.status_code >= 500:
                error = MailError(f"the mail provider answered {response.status_code}")
            elif response.status_code >= 400:
                raise MailError(f"the mail provider refused the message: {response.status_code}")
            else:
                return response.json()["id"]
        if attempt > RETRIES:
            raise MailError(f"mail to {to} failed after {attempt} attempts: {error}") from error
        logger.warning("mail to %s: attempt %d failed (%s), retrying", to, attempt, error)
        time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
