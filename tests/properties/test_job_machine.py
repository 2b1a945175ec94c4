"""Stateful test of the provisioning job state machine (``apps.provisioning.jobs``).

Hypothesis plays the broker and the workers against the real conditional UPDATEs on PostgreSQL:
messages are delivered, duplicated (redelivery) and delivered late; workers finish, fail or die;
the sweep recovers, terminalizes and re-dispatches; time jumps. Invariants after every step:

* never two live claims on one job (two messages both told STARTED inside one lease);
* ``0 <= retry_count <= max_retries``;
* terminal states absorb (completed, or failed with no retry armed, never change again);
* only the holder of the current claim can finish the job.

Modelling assumption, from the platform's design: a worker finishes within its task timeout
(240 s, below ``LEASE_SECONDS``); a worker past its timeout was killed (it can only "die").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from apps.common.retriability import Retriability
from apps.provisioning import jobs
from apps.provisioning.models import ProvisioningJob
from tests.properties.support import Sandbox, machine_settings, service_rows

pytestmark = [pytest.mark.django_db, pytest.mark.dbpath]

TASK_TIMEOUT = dt.timedelta(seconds=240)
LEASE = dt.timedelta(seconds=jobs.LEASE_SECONDS)
Status = ProvisioningJob.Status
OPERATIONS = [ProvisioningJob.Operation.CREATE, ProvisioningJob.Operation.SUSPEND]


@dataclass(frozen=True)
class Message:
    job_id: int
    nonce: str


@dataclass
class Worker:
    job_id: int
    nonce: str
    started: dt.datetime
    done: bool = False


class JobMachine(RuleBasedStateMachine):
    messages = Bundle("messages")
    workers = Bundle("workers")

    def __init__(self) -> None:
        super().__init__()
        self.box = Sandbox()
        self.service = service_rows("jobprop")
        self.claims: list[Worker] = []  # every STARTED claim, for the live-claim invariant
        self.terminal: dict[int, tuple] = {}

    def teardown(self) -> None:
        self.box.close()

    # -- the platform's side --------------------------------------------------------------------
    @rule(target=messages, operation=st.sampled_from(OPERATIONS), max_retries=st.integers(0, 3))
    def request(self, operation: str, max_retries: int) -> Message:
        job = jobs.request_job(self.service, operation, max_retries=max_retries)
        return Message(job.pk, job.claim_nonce)

    @rule(target=messages, message=messages)
    def redeliver(self, message: Message) -> Message:
        return message  # the broker hands out another copy of the same message

    @rule(target=workers, message=messages)
    def deliver(self, message: Message) -> Worker | None:
        outcome = jobs.start(message.job_id, message.nonce)
        if outcome != jobs.StartOutcome.STARTED:
            return None
        worker = Worker(message.job_id, message.nonce, timezone.now())
        for other in self.claims:
            live = not other.done and timezone.now() < other.started + LEASE
            assert not (live and other.job_id == worker.job_id), (
                f"two live claims on job {worker.job_id}: {other} and {worker}"
            )
        self.claims.append(worker)
        return worker

    def _in_time(self, worker: Worker | None) -> bool:
        return worker is not None and timezone.now() < worker.started + TASK_TIMEOUT

    @rule(worker=consumes(workers))
    def complete(self, worker: Worker | None) -> None:
        if not self._in_time(worker):
            return
        before = ProvisioningJob.objects.get(pk=worker.job_id)
        done = jobs.complete(worker.job_id, worker.nonce)
        assert done == (before.status == Status.RUNNING and before.claim_nonce == worker.nonce)
        worker.done = True

    @rule(
        worker=consumes(workers),
        retriability=st.sampled_from(list(Retriability)),
    )
    def fail(self, worker: Worker | None, retriability: Retriability) -> None:
        if not self._in_time(worker):
            return
        before = ProvisioningJob.objects.get(pk=worker.job_id)
        failure = jobs.fail(worker.job_id, worker.nonce, "boom", retriability)
        current = before.status == Status.RUNNING and before.claim_nonce == worker.nonce
        assert failure.recorded == current
        if current and retriability == Retriability.NOT_RETRIABLE:
            assert failure.terminal
        worker.done = True

    @rule(worker=consumes(workers))
    def die(self, worker: Worker | None) -> None:
        """The worker is killed (timeout, OOM, deploy): no complete, no fail; the lease stays."""

    @rule(minutes=st.sampled_from([1, 4, 6, 15, 31, 60]))
    def advance(self, minutes: int) -> None:
        self.box.advance(dt.timedelta(minutes=minutes))

    @rule(target=messages, enqueue_fails=st.booleans())
    def sweep(self, enqueue_fails: bool) -> object:
        """``process_failed_virtualmin_jobs`` without the broker: its four job transitions."""
        jobs.recover_lost()
        jobs.terminalize_exhausted()
        dispatched = []
        for job_id in jobs.due_for_retry():
            nonce = jobs.claim_for_retry(job_id)
            if nonce is None:
                continue
            if enqueue_fails:
                jobs.release_after_enqueue_failure(job_id, nonce)
            else:
                dispatched.append(Message(job_id, nonce))
        return multiple(*dispatched)

    # -- invariants -----------------------------------------------------------------------------
    @invariant()
    def retries_stay_within_bounds(self) -> None:
        for job in ProvisioningJob.objects.filter(service=self.service):
            assert 0 <= job.retry_count <= job.max_retries, job

    @invariant()
    def terminal_states_absorb(self) -> None:
        for job in ProvisioningJob.objects.filter(service=self.service):
            snapshot = (job.status, job.retry_count, job.next_retry_at, job.claim_nonce)
            if job.pk in self.terminal:
                assert snapshot == self.terminal[job.pk], f"terminal job {job.pk} moved"
            elif job.is_terminal:
                self.terminal[job.pk] = snapshot

    @invariant()
    def at_most_one_open_job_per_operation(self) -> None:
        for operation in OPERATIONS:
            open_jobs = ProvisioningJob.objects.filter(
                service=self.service, operation=operation, status__in=jobs.OPEN
            )
            assert open_jobs.count() <= 1


def test_job_state_machine():
    run_state_machine_as_test(JobMachine, settings=machine_settings())
