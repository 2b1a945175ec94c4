"""Enqueue benchmark tasks with the real ``async_task``, from a process of the bench project.

Run as ``python -m benchmarks.benchproject.produce --count N [--list-key K] [--rate R] [--wait-go]``
with the same ``HARNESS_Q_CLUSTER`` as the cluster (the signing salt is the cluster name, so a
payload signed elsewhere would be rejected). Protocol on stdout, one line each:
``ready`` once Django is set up, then (after a ``go`` line on stdin with ``--wait-go``) the
enqueueing, then ``{"count": N, "enqueue_s": …}``.

``--list-key`` puts the tasks on another queue name (a *staging* queue), so a benchmark can
build a backlog untimed and release it to a running cluster in one statement.
``--rate`` paces the enqueues (tasks per second) for latency runs below saturation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

TASK = "benchmarks.benchproject.tasks.started_at"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="produce")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--list-key", default=None, help="queue name (default: the cluster's)")
    parser.add_argument("--rate", type=float, default=0.0, help="tasks/s; 0 = as fast as possible")
    parser.add_argument("--wait-go", action="store_true", help="wait for a 'go' line on stdin")
    args = parser.parse_args(argv)
    if args.count < 0 or args.rate < 0:
        parser.error("--count and --rate must not be negative")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.benchproject.settings")
    import django

    django.setup()
    # One INFO line per enqueue would make the producer measure its own logging.
    logging.getLogger("django-q").setLevel(logging.WARNING)
    from django_q.brokers import get_broker
    from django_q.tasks import async_task

    broker = get_broker(args.list_key)
    broker.ping()
    print("ready", flush=True)
    if args.wait_go and sys.stdin.readline().strip() != "go":
        return 1
    t0 = time.perf_counter()
    for i in range(args.count):
        if args.rate:
            delay = t0 + i / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        async_task(TASK, broker=broker)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"count": args.count, "enqueue_s": elapsed}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
