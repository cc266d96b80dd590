"""Quiet hours on the salon's wall clock, across the changes to and from summer time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from salonbot.outbound.quiet_hours import is_quiet
from salonbot.outbound.settings import OutboundSettings, QuietHours

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = QuietHours(dt.time(21, 0), dt.time(9, 0))
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "quiet"),
    [
        # The day before clocks go forward (CET, UTC+1): 07:30 UTC is 08:30 local, quiet.
        (utc(2026, 3, 28, 7, 30), True),
        # The day clocks went forward (CEST, UTC+2): 07:30 UTC is 09:30 local, not quiet.
        (utc(2026, 3, 29, 7, 30), False),
        # 19:30 UTC: 20:30 local in winter (not quiet), 21:30 in summer (quiet).
        (utc(2026, 3, 28, 19, 30), False),
        (utc(2026, 3, 29, 19, 30), True),
        # Clocks go back on 25 October: 07:30 UTC is 09:30 CEST the day before, 08:30 CET after.
        (utc(2026, 10, 24, 7, 30), False),
        (utc(2026, 10, 25, 7, 30), True),
        # The repeated hour of the night is quiet both times.
        (dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=0), True),
        (dt.datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1), True),
    ],
)
def test_quiet_hours_follow_the_wall_clock_across_dst(instant: dt.datetime, quiet: bool) -> None:
    assert is_quiet(NIGHT, instant, BERLIN) is quiet


def test_quiet_hours_within_one_day_and_none() -> None:
    lunch = QuietHours(dt.time(13, 0), dt.time(14, 0))
    assert is_quiet(lunch, dt.datetime(2026, 5, 4, 13, 0, tzinfo=BERLIN), BERLIN)
    assert not is_quiet(lunch, dt.datetime(2026, 5, 4, 14, 0, tzinfo=BERLIN), BERLIN)
    assert not is_quiet(None, dt.datetime(2026, 5, 4, 3, 0, tzinfo=BERLIN), BERLIN)


def test_settings_read_back_from_the_salon_row() -> None:
    settings = OutboundSettings.from_json(
        {"reminders": [120, 1440], "quiet_hours": {"start": "21:00", "end": "09:00"}}
    )
    assert settings.reminders == (1440, 120)
    assert settings.quiet_hours == NIGHT
    assert OutboundSettings.from_json(None) == OutboundSettings()
