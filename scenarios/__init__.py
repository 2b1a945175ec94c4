"""The reference platform's scenarios (``*.toml``) and their golden timelines (``golden/*.jsonl``).

Run from the repository root (``harness scenarios``, ``harness replay NAME``, ``harness gate``):
names resolve from ``./scenarios``, and each scenario finds the platform through its
``project_root`` (``../reference``). A package so that :mod:`scenarios.praho` — the small glue
the scenarios use to give the platform its data and load — imports as each scenario names it
(its ``paths`` put the repository root on ``sys.path``); the harness itself never imports it.
"""
