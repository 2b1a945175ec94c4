"""Shipped scenarios (``*.toml``) and their golden timelines (``golden/*.jsonl``).

A package so that an installed harness finds them with ``importlib.resources``;
:mod:`scenarios.praho` is the small glue the shipped scenarios use to give the reference
platform its data and load (the harness itself never imports ``apps``).
"""
