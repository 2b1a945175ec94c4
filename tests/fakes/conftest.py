"""Fixtures for the fakes' tests: a virtual clock, a ledger, and the transport parameter."""

from __future__ import annotations

import pytest

from harness.fakes.ledger import Ledger
from tests.fakes.support import TRANSPORTS, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> Ledger:
    return Ledger(clock)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param
