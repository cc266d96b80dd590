"""Free slots: when a service can start, and with which master.

Times are handled as absolute instants (epoch seconds), so DST cannot bend them. A shift's
start and end are that day's local wall-clock times resolved in the salon's zone; candidate
starts step from the shift start by the slot step in real minutes. On the night clocks go
forward a shift spanning the gap is an hour shorter; on the night they go back the repeated
hour is offered twice, with different UTC offsets. A local time that does not exist resolves
with the offset in force before the change (02:30 on a spring-forward night is 03:30 summer
time); an ambiguous one means its first occurrence.

A candidate is free when the service fits inside one shift and [start, start + duration +
buffer) overlaps no live booking's [starts_at, blocked_until): the same ranges the database's
exclusion constraint compares, so a slot offered here is one the database accepts unless
someone takes it first. The buffer (clean-up) may run past the end of a shift; the service
may not.

Round trips: the salon's catalogue comes from the loaded `Salon`; the live bookings of all
relevant masters come from one query for a day, at most two for an earliest-slot search
(the first days, then the rest if needed), whatever the number of masters or days.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from salonbot.errors import InvalidInput, SlotUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from zoneinfo import ZoneInfo

    from salonbot.booking.catalog import Master, Salon, Service
    from salonbot.db.connection import Connection

# (start, end) in epoch seconds, end exclusive.
Interval = tuple[float, float]
BusyTimes = dict[int, list[Interval]]  # master id -> live bookings, sorted by start

# Days the earliest-slot search fetches bookings for before it fetches the rest.
FIRST_FETCH_DAYS = 2


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime  # timezone-aware, in the salon's timezone
    ends_at: dt.datetime  # end of the service (without buffer)
    master_code: str
    master_name: str


# --- time helpers --------------------------------------------------------------------------


def require_aware(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("needs a timezone (an aware datetime)", field=field)
    return value


def resolve_now(salon: Salon, now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return salon.now()
    return require_aware(now, "now").astimezone(salon.tz)


@functools.lru_cache(maxsize=4096)
def local_instant(day: dt.date, time: dt.time, tz: ZoneInfo) -> float:
    """A local wall-clock time as an instant (cached: masters share shift times)."""
    return dt.datetime.combine(day, time, tzinfo=tz).timestamp()


def day_start(day: dt.date, tz: ZoneInfo) -> float:
    return local_instant(day, dt.time(0, 0), tz)


def to_local(instant: float, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(instant, tz)


def bookable_days(salon: Salon, now: dt.datetime, days: int | None = None) -> list[dt.date]:
    """Local days from today on, at most `days` of them, none beyond the booking horizon
    (today counts as the first of `booking_horizon_days` days)."""
    count = salon.booking_horizon_days if days is None else min(days, salon.booking_horizon_days)
    today = now.astimezone(salon.tz).date()
    return [today + dt.timedelta(days=i) for i in range(max(count, 0))]


def in_horizon(salon: Salon, day: dt.date, now: dt.datetime) -> bool:
    ahead = (day - now.astimezone(salon.tz).date()).days
    return 0 <= ahead < salon.booking_horizon_days


def shift_windows(salon: Salon, master: Master, day: dt.date) -> list[Interval]:
    """The master's working time on a local day as instants; none on a day off."""
    if day in master.days_off:
        return []
    tz = salon.tz
    return [
        (local_instant(day, shift.start, tz), local_instant(day, shift.end, tz))
        for shift in master.shifts.get(day.isoweekday(), ())
    ]


# --- the engine ----------------------------------------------------------------------------


class BusyIndex:
    """One master's live bookings as two sorted lists, for O(log n) overlap checks.

    Live bookings of one master never overlap (the database guarantees it), so sorted by
    start they are sorted by end too: the first booking ending after `t` is the only one
    that can overlap an interval starting at `t`."""

    __slots__ = ("ends", "starts")

    def __init__(self, intervals: Sequence[Interval]) -> None:
        self.starts = [start for start, _ in intervals]
        self.ends = [end for _, end in intervals]

    def is_free(self, start: float, end: float) -> bool:
        i = bisect.bisect_right(self.ends, start)
        return i == len(self.ends) or self.starts[i] >= end


def index_busy(busy: BusyTimes) -> dict[int, BusyIndex]:
    return {master_id: BusyIndex(intervals) for master_id, intervals in busy.items()}


_NOTHING_BOOKED = BusyIndex(())


def _grid(window: Interval, duration_s: float, step_s: float, not_before: float) -> range:
    """Start instants on a shift's grid (every step from the shift start) at or after
    `not_before` whose service ends inside the shift. Integral seconds: shifts start on
    whole minutes and steps are whole minutes."""
    window_start, window_end = int(window[0]), int(window[1])
    step = int(step_s)
    first = window_start
    if first < not_before:
        first = window_start + math.ceil((not_before - window_start) / step) * step
    return range(first, int(window_end - duration_s) + 1, step)


def _not_before(salon: Salon, now: dt.datetime) -> float:
    return now.timestamp() + salon.min_notice_minutes * 60


def _free_on_day(
    salon: Salon,
    service: Service,
    masters: Iterable[Master],
    day: dt.date,
    busy: dict[int, BusyIndex],
    now: dt.datetime,
    limit: int | None = None,
) -> list[Slot]:
    if not in_horizon(salon, day, now):
        return []
    duration_s = service.duration_minutes * 60
    blocked_s = duration_s + service.buffer_after_minutes * 60
    step_s = salon.slot_step_minutes * 60
    not_before = _not_before(salon, now)
    # Each master's grid starts; masters with the same shifts share one set (built once).
    grids: dict[tuple[Interval, ...], frozenset[int]] = {}
    offers: list[tuple[Master, frozenset[int], BusyIndex]] = []
    for master in masters:
        windows = tuple(shift_windows(salon, master, day))
        if not windows:
            continue
        grid = grids.get(windows)
        if grid is None:
            grid = grids[windows] = frozenset(
                t for window in windows for t in _grid(window, duration_s, step_s, not_before)
            )
        offers.append((master, grid, busy.get(master.id, _NOTHING_BOOKED)))
    starts = sorted(frozenset().union(*grids.values()))
    tz = salon.tz
    found: list[Slot] = []
    # One slot per start time: the first master (in the order given) who has it on a
    # shift grid and is free for the service plus buffer. Usually the first one asked is.
    for t in starts:
        for master, grid, index in offers:
            if t in grid and index.is_free(t, t + blocked_s):
                found.append(
                    Slot(
                        starts_at=to_local(t, tz),
                        ends_at=to_local(t + duration_s, tz),
                        master_code=master.code,
                        master_name=master.name,
                    )
                )
                break
        if limit is not None and len(found) >= limit:
            break
    return found


def slots_for_day(
    salon: Salon,
    service: Service,
    masters: Iterable[Master],
    day: dt.date,
    busy: BusyTimes,
    now: dt.datetime,
) -> list[Slot]:
    """Free slots on a local day, one per start time, taken by the first master (in the
    order given) free then. Pure: `busy` must hold the masters' bookings around that day."""
    return _free_on_day(salon, service, masters, day, index_busy(busy), now)


# --- queries -------------------------------------------------------------------------------

# One index scan per master on the exclusion constraint's own GiST index (master_id,
# tstzrange): exact, and unaffected by how many other salons share the table.
_BUSY_SQL = """
SELECT m.id AS master_id,
       extract(epoch FROM b.starts_at)::float8 AS starts,
       extract(epoch FROM b.blocked_until)::float8 AS ends
  FROM unnest(%(masters)s::bigint[]) AS m (id)
  JOIN LATERAL (
        SELECT starts_at, blocked_until
          FROM bookings
         WHERE master_id = m.id
           AND status = 'confirmed'
           AND tstzrange(starts_at, blocked_until, '[)') && tstzrange(%(start)s, %(end)s, '[)')
           AND salon_id = %(salon)s
           AND id IS DISTINCT FROM %(exclude)s
       ) AS b ON true
"""


def fetch_busy(
    conn: Connection,
    salon: Salon,
    master_ids: Sequence[int],
    start: float,
    end: float,
    *,
    exclude_booking: int | None = None,
) -> BusyTimes:
    """Live bookings of the given masters overlapping [start, end), leaving out
    `exclude_booking` (a booking being moved): one round trip."""
    from psycopg.rows import tuple_row

    busy: BusyTimes = {master_id: [] for master_id in master_ids}
    if not master_ids or start >= end:
        return busy
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            _BUSY_SQL,
            {
                "start": dt.datetime.fromtimestamp(start, dt.UTC),
                "end": dt.datetime.fromtimestamp(end, dt.UTC),
                "masters": list(master_ids),
                "salon": salon.id,
                "exclude": exclude_booking,
            },
            binary=True,  # float8 in binary: no text parsing of thousands of numbers
        )
        for master_id, starts, ends in cur.fetchall():
            busy[master_id].append((starts, ends))
    for intervals in busy.values():
        intervals.sort()  # usually sorted already (index order): then this is one pass
    return busy


def masters_for(salon: Salon, service: Service, master_code: str | None) -> list[Master]:
    """The masters a query is about: one named master (who must do the service), or every
    master who does it, in salon order."""
    if master_code is None:
        return salon.masters_for(service)
    master = salon.master(master_code)
    if not master.does(service):
        raise InvalidInput(f"{master.name} does not do {service.code!r}", field="master")
    return [master]


def _window(salon: Salon, service: Service, days: Sequence[dt.date], now: dt.datetime) -> Interval:
    """Where bookings can get in the way of starts on `days`: from the first bookable
    instant to the last day's end plus one booking's length (a late start's buffer)."""
    tz = salon.tz
    start = max(day_start(days[0], tz), _not_before(salon, now))
    blocked_s = (service.duration_minutes + service.buffer_after_minutes) * 60.0
    end = day_start(days[-1] + dt.timedelta(days=1), tz) + blocked_s
    return start, end


def free_slots(
    conn: Connection,
    salon: Salon,
    service_code: str,
    day: dt.date,
    master_code: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """Free start times on a local day, sorted. `master_code=None` means any master who
    does the service: one slot per start time, the first master in salon order free then."""
    service = salon.service(service_code)
    masters = masters_for(salon, service, master_code)
    current = resolve_now(salon, now)
    if not in_horizon(salon, day, current):
        return []
    start, end = _window(salon, service, [day], current)
    busy = fetch_busy(conn, salon, [m.id for m in masters], start, end)
    return _free_on_day(salon, service, masters, day, index_busy(busy), current)


def earliest_slots(
    conn: Connection,
    salon: Salon,
    service_code: str,
    master_code: str | None = None,
    *,
    limit: int = 5,
    days: int | None = None,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """The first `limit` free slots from now, over the next `days` local days (default and
    maximum: the salon's booking horizon). One query for the first days' bookings, and one
    more for the rest of the window only when those days do not have enough slots."""
    if limit < 1:
        raise InvalidInput("must be at least 1", field="limit")
    if days is not None and days < 1:
        raise InvalidInput("must be at least 1", field="days")
    service = salon.service(service_code)
    masters = masters_for(salon, service, master_code)
    current = resolve_now(salon, now)
    search_days = bookable_days(salon, current, days)
    if not search_days or not masters:
        return []
    ids = [m.id for m in masters]
    found: list[Slot] = []
    # Most searches end on the first days: fetch those first, the rest only if needed.
    # At most two queries, whatever the number of masters or days.
    for chunk in (search_days[:FIRST_FETCH_DAYS], search_days[FIRST_FETCH_DAYS:]):
        if not chunk:
            break
        start, end = _window(salon, service, chunk, current)
        busy = index_busy(fetch_busy(conn, salon, ids, start, end))
        for day in chunk:
            found.extend(
                _free_on_day(salon, service, masters, day, busy, current, limit - len(found))
            )
            if len(found) >= limit:
                return found
    return found


def slots_by_day(
    conn: Connection,
    salon: Salon,
    service_code: str,
    days: Sequence[dt.date],
    master_code: str | None = None,
    *,
    now: dt.datetime | None = None,
    exclude_booking: int | None = None,
    limit_days: int | None = None,
) -> dict[dt.date, list[Slot]]:
    """Free slots per local day over `days` (sorted; days outside the horizon are left out)
    with one bookings query, `exclude_booking` (a booking being moved) counted as free. Days
    without a free slot are absent; at most `limit_days` days with slots are returned."""
    service = salon.service(service_code)
    masters = masters_for(salon, service, master_code)
    current = resolve_now(salon, now)
    wanted = [day for day in days if in_horizon(salon, day, current)]
    if not wanted or not masters:
        return {}
    start, end = _window(salon, service, wanted, current)
    ids = [m.id for m in masters]
    busy = fetch_busy(conn, salon, ids, start, end, exclude_booking=exclude_booking)
    return free_by_day(salon, service, masters, wanted, busy, current, limit_days)


def free_by_day(
    salon: Salon,
    service: Service,
    masters: Sequence[Master],
    days: Iterable[dt.date],
    busy: BusyTimes,
    now: dt.datetime,
    limit_days: int | None = None,
) -> dict[dt.date, list[Slot]]:
    """Free slots per local day, days without any left out, at most `limit_days` days
    with slots. Pure: `busy` must hold the masters' bookings around those days."""
    index = index_busy(busy)
    found: dict[dt.date, list[Slot]] = {}
    for day in days:
        free = _free_on_day(salon, service, masters, day, index, now)
        if free:
            found[day] = free
            if limit_days is not None and len(found) >= limit_days:
                break
    return found


# --- checking one requested time -----------------------------------------------------------


@dataclass(frozen=True)
class RequestedTime:
    """A start time that passed every check except overlap (the database decides that)."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    blocked_until: dt.datetime


def check_bookable(
    salon: Salon, service: Service, master: Master, starts_at: dt.datetime, now: dt.datetime
) -> RequestedTime:
    """Raise SlotUnavailable unless `master` could do `service` from `starts_at`: not in the
    past, outside the minimum notice, within the horizon, not a day off, inside one shift."""
    tz = salon.tz
    start = require_aware(starts_at, "starts_at").timestamp()
    duration_s = service.duration_minutes * 60.0
    if start < now.timestamp():
        raise SlotUnavailable("the requested time is in the past")
    if start < _not_before(salon, now):
        raise SlotUnavailable(f"bookings need at least {salon.min_notice_minutes} minutes' notice")
    local = to_local(start, tz)
    if not in_horizon(salon, local.date(), now):
        raise SlotUnavailable(f"bookings open at most {salon.booking_horizon_days} days ahead")
    if local.date() in master.days_off:
        raise SlotUnavailable(f"{master.name} has a day off on {local.date().isoformat()}")
    windows = shift_windows(salon, master, local.date())
    if not any(ws <= start and start + duration_s <= we for ws, we in windows):
        raise SlotUnavailable(
            f"{local:%Y-%m-%d %H:%M} to {to_local(start + duration_s, tz):%H:%M} is outside "
            f"{master.name}'s working hours"
        )
    blocked_s = duration_s + service.buffer_after_minutes * 60.0
    return RequestedTime(
        starts_at=local,
        ends_at=to_local(start + duration_s, tz),
        blocked_until=to_local(start + blocked_s, tz),
    )
