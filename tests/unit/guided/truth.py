"""Checks every statement the guided dialogue made about availability against the
availability engine, on the calendar as it stood when the statement was made: "nothing
free" (`NoFreeDays`, `DayFull`) and "that time is not free" (`TimeNotFree`) must be true.
A visit of several services is checked as the dialogue asked the desk for it (its codes
in order). Used by the property test and by the benchmark's corpus run."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from salonbot.assistant.guided import replies as r
from salonbot.assistant.guided.visit import desk_codes

if TYPE_CHECKING:
    from collections.abc import Iterable

    from salonbot.booking.desk import BookingDesk


def false_statements(
    replies: Iterable[r.Reply], desk: BookingDesk, *, exclude_booking: int | None = None
) -> list[str]:
    """Each availability statement among `replies` that the engine contradicts."""
    wrong: list[str] = []
    for reply in replies:
        match reply:
            case r.NoFreeDays(service, master, first, last):
                days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
                free = desk.slots_by_day(
                    desk_codes(service.code),
                    days,
                    master.code if master else None,
                    exclude_booking=exclude_booking,
                    limit_days=1,
                )
                if free:
                    wrong.append(f"{reply}: free on {min(free)}")
            case r.DayFull(day, service, master):
                free = desk.slots_by_day(
                    desk_codes(service.code),
                    [day],
                    master.code if master else None,
                    exclude_booking=exclude_booking,
                )
                if free:
                    wrong.append(f"{reply}: {len(free[day])} free")
            case r.TimeNotFree(time, day, service, master):
                slots = desk.slots_by_day(
                    desk_codes(service.code),
                    [day],
                    master.code if master else None,
                    exclude_booking=exclude_booking,
                ).get(day, [])
                local = [s.starts_at.astimezone(desk.salon.tz).time() for s in slots]
                if any((t.hour, t.minute) == (time.hour, time.minute) for t in local):
                    wrong.append(f"{reply}: it is free")
    return wrong
