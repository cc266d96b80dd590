"""Free slots: when a service (or a visit of several, back to back) can start, and with
which master for each item.

Times are handled as absolute instants (epoch seconds), so DST cannot bend them. A shift's
start and end are that day's local wall-clock times resolved in the salon's zone; candidate
starts step from the shift start by the slot step in real minutes. On the night clocks go
forward a shift spanning the gap is an hour shorter; on the night they go back the repeated
hour is offered twice, with different UTC offsets. A local time that does not exist resolves
with the offset in force before the change (02:30 on a spring-forward night is 03:30 summer
time); an ambiguous one means its first occurrence.

A candidate is free when each item fits inside one shift of its master and the master's
busy time for it ([start, end + buffer), less a processing gap) overlaps no live item's
`master_busy`, and its resource (if any) has room: the same ranges the database's
exclusion constraint and capacity check compare, so a slot offered here is one the
database accepts unless someone takes it first. The buffer (clean-up) may run past the end
of a shift; the service may not. The items' layout is `booking.visits`.

Round trips: the salon's catalogue comes from the loaded `Salon`; the live items of all
relevant masters and resources come from one query for a day, at most two for an
earliest-slot search (the first days, then the rest if needed), whatever the number of
masters, items or days.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from salonbot.booking import visits
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


class SlotItem(NamedTuple):
    """One service of a visit's slot, with its master (a tuple: a day's search makes
    hundreds of them)."""

    service_code: str
    master_code: str
    master_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime  # timezone-aware, in the salon's timezone: the visit's start
    ends_at: dt.datetime  # end of the (last) service, without buffer
    master_code: str  # the first item's master
    master_name: str
    items: tuple[SlotItem, ...] = ()  # every item of the visit, in order


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

BusyIndex = visits.BusyIndex
_NOTHING_BOOKED = visits.NOTHING_BOOKED


def index_busy(busy: BusyTimes) -> dict[int, BusyIndex]:
    return {master_id: BusyIndex(intervals) for master_id, intervals in busy.items()}


def index_resources(salon: Salon, busy: BusyTimes) -> dict[int, visits.ResourceIndex]:
    capacity = {r.id: r.capacity for r in salon.resources.values()}
    return {
        rid: visits.ResourceIndex(capacity.get(rid, 1), intervals)
        for rid, intervals in busy.items()
    }


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
    services: Sequence[Service],
    choices: Sequence[Sequence[Master]],
    day: dt.date,
    busy: dict[int, BusyIndex],
    now: dt.datetime,
    limit: int | None = None,
    resources: dict[int, visits.ResourceIndex] | None = None,
) -> list[Slot]:
    """Free starts of the visit `services` on a local day: one per start time, each item
    with the first master of `choices[i]` whose hours fit it and who is free then."""
    if not in_horizon(salon, day, now):
        return []
    offsets = visits.item_offsets(services)
    step_s = salon.slot_step_minutes * 60
    not_before = _not_before(salon, now)
    first_duration = offsets[0].end
    # The first item's masters' grid starts; masters with the same shifts share one set.
    grids: dict[tuple[Interval, ...], frozenset[int]] = {}
    offers: list[tuple[Master, frozenset[int], BusyIndex]] = []
    for master in choices[0]:
        windows = tuple(shift_windows(salon, master, day))
        if not windows:
            continue
        grid = grids.get(windows)
        if grid is None:
            grid = grids[windows] = frozenset(
                t for window in windows for t in _grid(window, first_duration, step_s, not_before)
            )
        offers.append((master, grid, busy.get(master.id, _NOTHING_BOOKED)))
    if not offers:
        return []
    starts = sorted(frozenset().union(*grids.values()))
    tz = salon.tz
    rooms = resources or {}
    # Later items: each master's windows on the items' local days, found once per day.
    later: list[list[tuple[Master, dict[dt.date, list[Interval]], BusyIndex]]] = [
        [(m, {}, busy.get(m.id, _NOTHING_BOOKED)) for m in masters] for masters in choices[1:]
    ]
    # The first item, on every start: its master's busy ranges relative to the start
    # (one without a processing gap), checked without building a span per start.
    head = offsets[0]
    head_busy = [(a, b) for a, b in head.master_busy() if a < b]
    head_resource = services[0].resource_id is not None
    gapless = len(head_busy) == 1
    head_from, head_until = head_busy[0]
    found: list[Slot] = []
    for t in starts:
        if head_resource and not visits.resource_free(
            salon, services[0], visits.shifted(head, t), rooms
        ):
            continue
        # The first master (in the order given) who has it on a shift grid and is free
        # for the item. Usually the first one asked is.
        lead = None
        for master, grid, index in offers:
            if t not in grid:
                continue
            if gapless:
                if index.is_free(t + head_from, t + head_until):
                    lead = master
                    break
            elif all(index.is_free(t + a, t + b) for a, b in head_busy):
                lead = master
                break
        if lead is None:
            continue
        if len(services) == 1:
            starts_at, ends_at = to_local(t, tz), to_local(t + head.end, tz)
            item = SlotItem(services[0].code, lead.code, lead.name, starts_at, ends_at)
            found.append(Slot(starts_at, ends_at, lead.code, lead.name, (item,)))
            if limit is not None and len(found) >= limit:
                break
            continue
        items = [(services[0], lead, visits.shifted(head, t))]
        for service, offset, masters in zip(services[1:], offsets[1:], later, strict=True):
            span = visits.shifted(offset, t)
            if not visits.resource_free(salon, service, span, rooms):
                break
            local_day = to_local(span.start, tz).date()
            chosen = None
            for master, windows_by_day, index in masters:
                if local_day not in windows_by_day:
                    windows_by_day[local_day] = shift_windows(salon, master, local_day)
                if visits.fits_shift(windows_by_day[local_day], span) and index.is_free_for(span):
                    chosen = master
                    break
            if chosen is None:
                break
            items.append((service, chosen, span))
        if len(items) < len(services):
            continue
        found.append(_slot(tz, items))
        if limit is not None and len(found) >= limit:
            break
    return found


def _slot(tz: ZoneInfo, items: Sequence[tuple[Service, Master, visits.ItemSpan]]) -> Slot:
    times: dict[float, dt.datetime] = {}

    def local(instant: float) -> dt.datetime:
        # Back-to-back items share instants: each is converted once.
        if instant not in times:
            times[instant] = to_local(instant, tz)
        return times[instant]

    parts = tuple(
        SlotItem(
            service_code=service.code,
            master_code=master.code,
            master_name=master.name,
            starts_at=local(span.start),
            ends_at=local(span.end),
        )
        for service, master, span in items
    )
    return Slot(
        starts_at=parts[0].starts_at,
        ends_at=parts[-1].ends_at,
        master_code=parts[0].master_code,
        master_name=parts[0].master_name,
        items=parts,
    )


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
    return _free_on_day(salon, [service], [list(masters)], day, index_busy(busy), now)


# --- queries -------------------------------------------------------------------------------

# One index scan per master on the exclusion constraint's own GiST index (master_id,
# master_busy), and one per resource on booking_items_resource_idx: exact, and
# unaffected by how many other salons share the table. A master's busy time is a
# multirange (a processing gap splits it): each of its ranges is a row.
_BUSY_SQL = """
SELECT false AS resource, m.id,
       extract(epoch FROM lower(r))::float8 AS starts,
       extract(epoch FROM upper(r))::float8 AS ends
  FROM unnest(%(masters)s::bigint[]) AS m (id)
  JOIN LATERAL (
        SELECT master_busy
          FROM booking_items
         WHERE master_id = m.id
           AND status = 'confirmed'
           AND master_busy && tstzrange(%(start)s, %(end)s, '[)')
           AND booking_id IS DISTINCT FROM %(exclude)s
       ) AS b ON true
 CROSS JOIN LATERAL unnest(b.master_busy) AS r
 WHERE NOT isempty(r)
UNION ALL
SELECT true, q.id,
       extract(epoch FROM i.starts_at)::float8, extract(epoch FROM i.ends_at)::float8
  FROM unnest(%(resources)s::bigint[]) AS q (id)
  JOIN booking_items i
    ON i.resource_id = q.id
   AND i.status = 'confirmed'
   AND tstzrange(i.starts_at, i.ends_at, '[)') && tstzrange(%(start)s, %(end)s, '[)')
   AND i.booking_id IS DISTINCT FROM %(exclude)s
"""


def fetch_calendar(
    conn: Connection,
    salon: Salon,
    master_ids: Sequence[int],
    resource_ids: Sequence[int],
    start: float,
    end: float,
    *,
    exclude_booking: int | None = None,
) -> tuple[BusyTimes, BusyTimes]:
    """Busy times of the given masters and live items of the given resources
    overlapping [start, end), leaving out `exclude_booking` (a visit being moved): one
    round trip, whatever the number of masters or resources."""
    from psycopg.rows import tuple_row

    busy: BusyTimes = {master_id: [] for master_id in master_ids}
    used: BusyTimes = {resource_id: [] for resource_id in resource_ids}
    if not (master_ids or resource_ids) or start >= end:
        return busy, used
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            _BUSY_SQL,
            {
                "start": dt.datetime.fromtimestamp(start, dt.UTC),
                "end": dt.datetime.fromtimestamp(end, dt.UTC),
                "masters": list(master_ids),
                "resources": list(resource_ids),
                "exclude": exclude_booking,
            },
            binary=True,  # float8 in binary: no text parsing of thousands of numbers
        )
        for is_resource, key, starts, ends in cur.fetchall():
            (used if is_resource else busy)[key].append((starts, ends))
    for intervals in busy.values():
        intervals.sort()  # usually sorted already (index order): then this is one pass
    return busy, used


def fetch_busy(
    conn: Connection,
    salon: Salon,
    master_ids: Sequence[int],
    start: float,
    end: float,
    *,
    exclude_booking: int | None = None,
) -> BusyTimes:
    """Busy times of the given masters overlapping [start, end), leaving out
    `exclude_booking` (a booking being moved): one round trip."""
    busy, _ = fetch_calendar(
        conn, salon, master_ids, (), start, end, exclude_booking=exclude_booking
    )
    return busy


def masters_for(salon: Salon, service: Service, master_code: str | None) -> list[Master]:
    """The masters a query is about: one named master (who must do the service), or every
    master who does it, in salon order."""
    return visits.masters_per_item(salon, [service], master_code)[0]


@dataclass(frozen=True)
class VisitQuery:
    """What a slot search is about: the visit's services and who may take each item."""

    services: list[Service]
    choices: list[list[Master]]

    @classmethod
    def of(
        cls, salon: Salon, service_code: str | Sequence[str], master_code: str | None
    ) -> VisitQuery:
        services = visits.visit_services(salon, service_code)
        return cls(services, visits.masters_per_item(salon, services, master_code))

    @property
    def master_ids(self) -> list[int]:
        return list(dict.fromkeys(m.id for masters in self.choices for m in masters))

    @property
    def resource_ids(self) -> list[int]:
        return list(dict.fromkeys(s.resource_id for s in self.services if s.resource_id))

    @property
    def length_s(self) -> float:
        """From the visit's start to the latest end of a master's block."""
        return max(span.blocked_until for span in visits.item_offsets(self.services))

    def any_master(self) -> bool:
        return all(self.choices)


def _window(salon: Salon, query: VisitQuery, days: Sequence[dt.date], now: dt.datetime) -> Interval:
    """Where bookings can get in the way of starts on `days`: from the first bookable
    instant to the last day's end plus one visit's length (a late start's buffer)."""
    tz = salon.tz
    start = max(day_start(days[0], tz), _not_before(salon, now))
    end = day_start(days[-1] + dt.timedelta(days=1), tz) + query.length_s
    return start, end


def _fetch(
    conn: Connection,
    salon: Salon,
    query: VisitQuery,
    days: Sequence[dt.date],
    now: dt.datetime,
    exclude_booking: int | None = None,
) -> tuple[dict[int, BusyIndex], dict[int, visits.ResourceIndex]]:
    start, end = _window(salon, query, days, now)
    busy, used = fetch_calendar(
        conn,
        salon,
        query.master_ids,
        query.resource_ids,
        start,
        end,
        exclude_booking=exclude_booking,
    )
    return index_busy(busy), index_resources(salon, used)


def free_slots(
    conn: Connection,
    salon: Salon,
    service_code: str | Sequence[str],
    day: dt.date,
    master_code: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[Slot]:
    """Free start times on a local day, sorted, for one service or a visit of several.
    `master_code=None` means any master per item: one slot per start time, each item
    with the first master in salon order free then."""
    query = VisitQuery.of(salon, service_code, master_code)
    current = resolve_now(salon, now)
    if not in_horizon(salon, day, current) or not query.any_master():
        return []
    busy, used = _fetch(conn, salon, query, [day], current)
    return _free_on_day(salon, query.services, query.choices, day, busy, current, None, used)


def earliest_slots(
    conn: Connection,
    salon: Salon,
    service_code: str | Sequence[str],
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
    query = VisitQuery.of(salon, service_code, master_code)
    current = resolve_now(salon, now)
    search_days = bookable_days(salon, current, days)
    if not search_days or not query.any_master():
        return []
    found: list[Slot] = []
    # Most searches end on the first days: fetch those first, the rest only if needed.
    # At most two queries, whatever the number of masters or days.
    for chunk in (search_days[:FIRST_FETCH_DAYS], search_days[FIRST_FETCH_DAYS:]):
        if not chunk:
            break
        busy, used = _fetch(conn, salon, query, chunk, current)
        for day in chunk:
            found.extend(
                _free_on_day(
                    salon,
                    query.services,
                    query.choices,
                    day,
                    busy,
                    current,
                    limit - len(found),
                    used,
                )
            )
            if len(found) >= limit:
                return found
    return found


def slots_by_day(
    conn: Connection,
    salon: Salon,
    service_code: str | Sequence[str],
    days: Sequence[dt.date],
    master_code: str | None = None,
    *,
    now: dt.datetime | None = None,
    exclude_booking: int | None = None,
    limit_days: int | None = None,
) -> dict[dt.date, list[Slot]]:
    """Free slots per local day over `days` (sorted; days outside the horizon are left out)
    with one bookings query, `exclude_booking` (a visit being moved) counted as free. Days
    without a free slot are absent; at most `limit_days` days with slots are returned."""
    query = VisitQuery.of(salon, service_code, master_code)
    current = resolve_now(salon, now)
    wanted = [day for day in days if in_horizon(salon, day, current)]
    if not wanted or not query.any_master():
        return {}
    busy, used = _fetch(conn, salon, query, wanted, current, exclude_booking)
    return _by_day(salon, query, wanted, busy, used, current, limit_days)


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
    return free_visit_by_day(salon, [service], [masters], days, busy, now, limit_days)


def free_visit_by_day(
    salon: Salon,
    services: Sequence[Service],
    choices: Sequence[Sequence[Master]],
    days: Iterable[dt.date],
    busy: BusyTimes,
    now: dt.datetime,
    limit_days: int | None = None,
    resource_busy: BusyTimes | None = None,
) -> dict[dt.date, list[Slot]]:
    """`free_by_day` for a visit: its services in order, each item's masters, and the
    resources' live items in `resource_busy`."""
    query = VisitQuery(list(services), [list(m) for m in choices])
    used = index_resources(salon, resource_busy or {})
    return _by_day(salon, query, days, index_busy(busy), used, now, limit_days)


def _by_day(
    salon: Salon,
    query: VisitQuery,
    days: Iterable[dt.date],
    busy: dict[int, BusyIndex],
    used: dict[int, visits.ResourceIndex],
    now: dt.datetime,
    limit_days: int | None,
) -> dict[dt.date, list[Slot]]:
    found: dict[dt.date, list[Slot]] = {}
    for day in days:
        free = _free_on_day(salon, query.services, query.choices, day, busy, now, None, used)
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


def allowed_per_item(
    salon: Salon,
    services: Sequence[Service],
    choices: Sequence[Sequence[Master]],
    starts_at: dt.datetime,
    now: dt.datetime,
) -> list[list[Master]]:
    """For a visit starting at `starts_at`, each item's masters (in the order given) whose
    hours allow it: `check_bookable` for every item from its own start. `SlotUnavailable`
    when an item has none (the one reason when all its masters agree)."""
    tz = salon.tz
    start = require_aware(starts_at, "starts_at").timestamp()
    allowed: list[list[Master]] = []
    for service, offset, masters in zip(
        services, visits.item_offsets(services), choices, strict=True
    ):
        local = to_local(visits.shifted(offset, start).start, tz)
        fit: list[Master] = []
        refusals: list[SlotUnavailable] = []
        for master in masters:
            try:
                check_bookable(salon, service, master, local, now)
            except SlotUnavailable as exc:
                refusals.append(exc)
                continue
            fit.append(master)
        if not fit:
            raise visits.refuse_unworkable(salon, service, masters, refusals, local)
        allowed.append(fit)
    return allowed
