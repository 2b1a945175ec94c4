"""The duration grammar read both ways: what ``format_duration`` writes, ``parse_duration``
reads back to the same value (``harness scenarios`` lists durations as a user writes them)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=30), "30d"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(minutes=45), "45m"),
        (timedelta(hours=7), "7h"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(hours=2, minutes=30, seconds=5), "2h30m5s"),
        (timedelta(), "0s"),
    ],
)
def test_durations_are_written_as_a_user_writes_them(value, text):
    assert format_duration(value) == text


@given(st.integers(min_value=0, max_value=400 * 86_400 * 1_000_000))
def test_what_is_written_reads_back_to_the_same_duration(micros):
    value = timedelta(microseconds=micros)
    assert parse_duration(format_duration(value)) == value
