"""Quiet hours: no reminder goes out between `start` and `end` of the salon's local day.

Decided on the salon's wall clock at the instant of the run (the instant converted with
the salon's time zone rules), never with a fixed UTC offset, so a change to or from
summer time moves the quiet hours with the clock on the wall."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from salonbot.outbound.settings import QuietHours


def is_quiet(quiet: QuietHours | None, now: dt.datetime, tz: ZoneInfo) -> bool:
    """True while `now` falls in the quiet hours (`start` included, `end` not); they may
    span midnight (21:00-09:00)."""
    if quiet is None:
        return False
    local = now.astimezone(tz).time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end
