"""A minimal Django project for benchmark runs: only ``django_q`` and one task module.

It never imports the reference platform (``apps/``): the numbers must describe Django-Q2 and
PostgreSQL, not PRAHO's own code.
"""
