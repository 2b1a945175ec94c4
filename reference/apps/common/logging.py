"""A logging filter that redacts credentials from every record a handler emits.

Defence in depth: the tasks already log only sanitized text, but third-party loggers (urllib3
at DEBUG logs request URLs, and Virtualmin's remote.cgi takes ``pass=`` in the query) and
tracebacks (``logger.exception``) are not ours to word. Attached to the handlers in
``LOGGING``, it rewrites the message and the formatted traceback through
:func:`apps.common.security.sanitize`.
"""

from __future__ import annotations

import logging


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from apps.common.security import sanitize

        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: leave it to the handler to report
            return True
        record.msg, record.args = sanitize(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = sanitize(record.exc_text)
            record.exc_info = None
        return True
