"""The one 24-hour window every free-form message asks (reminders, feedback, staff
replies): open until 24 hours after the customer's last message, less the closing margin;
closed for a customer who never wrote; the refusal says why."""

from __future__ import annotations

import datetime as dt

import pytest

from salonbot.outbound import window

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("ago", "open_"),
    [
        (dt.timedelta(minutes=1), True),
        (dt.timedelta(hours=23, minutes=54), True),
        (dt.timedelta(hours=23, minutes=56), False),  # inside the closing margin
        (dt.timedelta(hours=25), False),
    ],
)
def test_open_until_24_hours_less_the_margin(ago: dt.timedelta, open_: bool) -> None:
    assert window.is_open(NOW - ago, NOW) is open_


def test_never_written_is_closed() -> None:
    assert window.is_open(None, NOW) is False
    assert window.closes_at(None) is None
    with pytest.raises(window.OutsideWindow) as refused:
        window.require_open(None, NOW)
    assert "has not written" in refused.value.reason


def test_the_refusal_names_when_the_window_closed_or_closes() -> None:
    with pytest.raises(window.OutsideWindow) as closed:
        window.require_open(NOW - dt.timedelta(hours=30), NOW)
    assert closed.value.reason.startswith(
        "the 24-hour customer-service window closed at 2026-03-10T06:00+00:00"
    )
    with pytest.raises(window.OutsideWindow) as closing:
        window.require_open(NOW - dt.timedelta(hours=23, minutes=58), NOW)
    assert "closes at 2026-03-10T12:02+00:00, too soon" in closing.value.reason
    window.require_open(NOW - dt.timedelta(hours=1), NOW)
