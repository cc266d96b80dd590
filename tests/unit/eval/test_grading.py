"""Grading a trial on the state it left: exact bookings, other customers untouched,
statements heard or not, the hand-off, and the checks that always apply."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from salonbot_dev.eval.grading import HeldBooking, Observed, grade
from salonbot_dev.eval.tasks import Task

MOSCOW = ZoneInfo("Europe/Moscow")


def _task(**expect: Any) -> Task:
    return Task.model_validate(
        {"id": "t", "customer": {"phone": "+79990001111"}, "script": ["hi"], "expect": expect}
    )


def _held(
    service: str,
    hour: int,
    master: str = "anna",
    phone: str = "+79990001111",
    status: str = "confirmed",
) -> HeldBooking:
    start = dt.datetime(2030, 1, 8, hour, 0, tzinfo=MOSCOW)
    return HeldBooking(phone, service, master, start, status, f"C{hour:02d}{service[:3]}")


def _observed(**values: Any) -> Observed:
    base: dict[str, Any] = {
        "mine": [],
        "others_before": [],
        "others_after": [],
        "said": "",
        "handed_off": False,
    }
    base.update(values)
    return Observed(**base)


def test_a_booking_in_the_window_passes_and_one_outside_fails() -> None:
    task = _task(
        bookings=[
            {
                "service": "manicure",
                "start_after": "2030-01-08T15:00",
                "start_before": "2030-01-08T18:00",
            }
        ]
    )
    assert grade(task, _observed(mine=[_held("manicure", 15)]), MOSCOW) == []
    # start_before is exclusive
    [reason] = grade(task, _observed(mine=[_held("manicure", 18)]), MOSCOW)
    assert reason.startswith("bookings: expected manicure from 2030-01-08 15:00 before")
    assert "held manicure with anna at 2030-01-08 18:00" in reason


def test_bookings_must_match_exactly_nothing_extra() -> None:
    task = _task(bookings=[{"service": "manicure", "master": "anna", "start": "2030-01-08T15:00"}])
    extra = [_held("manicure", 15), _held("pedicure", 11)]
    assert grade(task, _observed(mine=extra), MOSCOW) != []
    assert grade(task, _observed(mine=[_held("manicure", 15, master="maria")]), MOSCOW) != []
    assert grade(_task(bookings=[]), _observed(mine=[_held("manicure", 15)]), MOSCOW) != []
    # No expectation: not checked
    assert grade(_task(), _observed(mine=extra), MOSCOW) == []


def test_each_expected_booking_needs_its_own_held_one() -> None:
    # Given two expectations the same booking could satisfy, and two bookings
    task = _task(
        bookings=[{"service": "manicure"}, {"service": "manicure", "start": "2030-01-08T11:00"}]
    )
    # Then the matching pairs them one to one whatever the order
    assert grade(task, _observed(mine=[_held("manicure", 11), _held("manicure", 15)]), MOSCOW) == []
    assert grade(task, _observed(mine=[_held("manicure", 15), _held("manicure", 16)]), MOSCOW) != []


def test_an_offset_start_is_compared_as_an_instant() -> None:
    task = _task(bookings=[{"service": "manicure", "start": "2030-01-08T12:00:00+00:00"}])
    assert grade(task, _observed(mine=[_held("manicure", 15)]), MOSCOW) == []


def test_another_customers_changed_booking_fails_unless_allowed() -> None:
    before = [_held("manicure", 15, phone="+79990002222")]
    after = [_held("manicure", 15, phone="+79990002222", status="cancelled")]
    [reason] = grade(_task(), _observed(others_before=before, others_after=after), MOSCOW)
    assert "other customers' bookings changed" in reason and "[cancelled]" in reason
    allowed = _task(unchanged_others=False)
    assert grade(allowed, _observed(others_before=before, others_after=after), MOSCOW) == []


def test_mentions_and_not_mentions_are_searched_in_everything_said() -> None:
    task = _task(mentions=["[A-Z0-9]{6}", "2800"], not_mentions=["(?i)ошибк"])
    assert grade(task, _observed(said="Код записи: 8ND2TG\nПедикюр 2800"), MOSCOW) == []
    reasons = grade(task, _observed(said="Ошибка"), MOSCOW)
    assert "never said /[A-Z0-9]{6}/" in reasons
    assert "said /(?i)ошибк/: 'Ошибк'" in reasons


def test_handoff_silence_and_failures_are_reasons() -> None:
    assert grade(_task(handoff=True), _observed(), MOSCOW) == ["expected a hand-off to staff"]
    assert grade(_task(handoff=False), _observed(handed_off=True), MOSCOW) == [
        "handed off to staff unasked"
    ]
    assert grade(_task(), _observed(handed_off=True), MOSCOW) == []  # not checked
    reasons = grade(_task(), _observed(silent=["Алло?"], failure="the run raised X: y"), MOSCOW)
    assert reasons == ["the run raised X: y", "no reply to 'Алло?'"]
