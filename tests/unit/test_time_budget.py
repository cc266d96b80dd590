"""The invocation's time budget: records start only with time left, and a turn's model
calls end early enough to answer without the model, commit and send."""

from __future__ import annotations

import time

import pytest

from salonbot.time_budget import (
    MIN_RECORD_S,
    RESERVE_S,
    OutOfTime,
    check_record_start,
    invocation,
    model_deadline,
    remaining_s,
)


def test_outside_an_invocation_nothing_is_limited() -> None:
    assert remaining_s() is None
    check_record_start()
    assert model_deadline(123.0) == 123.0


def test_a_record_needs_time_left_to_start() -> None:
    with invocation(int((MIN_RECORD_S + 5) * 1000)):
        check_record_start()
    with invocation(int((MIN_RECORD_S - 1) * 1000)), pytest.raises(OutOfTime):
        check_record_start()
    assert remaining_s() is None


def test_the_model_stops_before_the_invocation_ends() -> None:
    own = time.monotonic() + 45
    with invocation(60_000):
        assert model_deadline(own) == pytest.approx(own, abs=0.5)
    with invocation(20_000):
        left = model_deadline(own) - time.monotonic()
        assert left == pytest.approx(20 - RESERVE_S, abs=0.5)
