#!/usr/bin/env python
"""Django's command-line utility for the reference platform (development settings by default;
``--settings config.settings.production`` or ``DJANGO_SETTINGS_MODULE`` for production)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    from django.core.management import execute_from_command_line

    from config.environment import exit_on_misconfiguration

    # A missing DJANGO_SECRET_KEY (or another variable production needs) is one line, exit 2.
    with exit_on_misconfiguration("manage.py"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
