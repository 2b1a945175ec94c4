"""Benchmarks of Django-Q2 on real PostgreSQL and Redis.

Run with ``make bench``; see docs/benchmarks.md.
"""
