"""A visit's items laid out in time, and which master (and resource) can take each.

A visit is one or more services booked back to back: the next item starts when the
previous one ends. Each item blocks its master from its start to its end plus that
service's buffer, less the processing gap (a colour developing: the master is free for
someone else, the client stays in the chair); it holds one unit of its service's resource
(a pedicure chair) from its start to its end. The same ranges the database compares
(`bookings_no_overlap` on `booking_items.master_busy`, the resource-capacity trigger), so
a visit planned here is one the database accepts unless someone takes the time first.

Pure: busy times are fetched elsewhere (`availability.fetch_calendar`) and passed in.
Instants are epoch seconds, as in `availability`.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from salonbot.errors import InvalidInput, SlotTaken, SlotUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence

    from salonbot.booking.catalog import Master, Salon, Service

Interval = tuple[float, float]

# A visit holds at most this many services (the database allows 20 items).
MAX_ITEMS = 6


@dataclass(frozen=True)
class ItemSpan:
    """One item's instants: the service from `start` to `end`, the master blocked until
    `blocked_until` except during `processing` (None: no gap)."""

    start: float
    end: float
    blocked_until: float
    processing: Interval | None

    def master_busy(self) -> list[Interval]:
        if self.processing is None:
            return [(self.start, self.blocked_until)]
        return [(self.start, self.processing[0]), (self.processing[1], self.blocked_until)]


def item_offsets(services: Sequence[Service]) -> list[ItemSpan]:
    """The items' spans for a visit starting at 0 (add the start instant)."""
    spans: list[ItemSpan] = []
    at = 0.0
    for service in services:
        end = at + service.duration_minutes * 60
        processing = None
        if service.processing_minutes:
            until = end - service.finishing_minutes * 60
            processing = (until - service.processing_minutes * 60, until)
        spans.append(ItemSpan(at, end, end + service.buffer_after_minutes * 60, processing))
        at = end
    return spans


def shifted(span: ItemSpan, start: float) -> ItemSpan:
    processing = span.processing
    if processing is not None:
        processing = (processing[0] + start, processing[1] + start)
    return ItemSpan(span.start + start, span.end + start, span.blocked_until + start, processing)


def visit_services(salon: Salon, codes: str | Sequence[str]) -> list[Service]:
    """The services of a visit, in order: one code or several."""
    wanted = [codes] if isinstance(codes, str) else list(codes)
    if not wanted:
        raise InvalidInput("needs at least one service", field="service")
    if len(wanted) > MAX_ITEMS:
        raise InvalidInput(f"a visit holds at most {MAX_ITEMS} services", field="service")
    return [salon.service(code) for code in wanted]


def masters_per_item(
    salon: Salon, services: Sequence[Service], master_code: str | None
) -> list[list[Master]]:
    """Who may take each item: the one named master (who must do every service), or
    every master who does the item's service, in salon order."""
    if master_code is None:
        return [salon.masters_for(service) for service in services]
    master = salon.master(master_code)
    for service in services:
        if not master.does(service):
            raise InvalidInput(f"{master.name} does not do {service.code!r}", field="master")
    return [[master] for _ in services]


class BusyIndex:
    """One master's busy times, merged and sorted, for O(log n) overlap checks."""

    __slots__ = ("ends", "starts")

    def __init__(self, intervals: Sequence[Interval]) -> None:
        starts: list[float] = []
        ends: list[float] = []
        # Sorted by start; items of one visit may overlap each other (a buffer running
        # into the same master's next item), so overlapping ones are merged.
        for start, end in intervals:
            if ends and start < ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        self.starts = starts
        self.ends = ends

    def is_free(self, start: float, end: float) -> bool:
        i = bisect.bisect_right(self.ends, start)
        return i == len(self.ends) or self.starts[i] >= end

    def is_free_for(self, span: ItemSpan) -> bool:
        return all(self.is_free(s, e) for s, e in span.master_busy() if s < e)


NOTHING_BOOKED = BusyIndex(())


class ResourceIndex:
    """A resource's live items (they may overlap, up to its capacity)."""

    __slots__ = ("capacity", "ends", "longest", "starts")

    def __init__(self, capacity: int, intervals: Sequence[Interval]) -> None:
        ordered = sorted(intervals)
        self.capacity = capacity
        self.starts = [s for s, _ in ordered]
        self.ends = [e for _, e in ordered]
        self.longest = max((e - s for s, e in ordered), default=0.0)

    def has_room(self, start: float, end: float) -> bool:
        """One more unit free at every instant of [start, end)."""
        lo = bisect.bisect_left(self.starts, start - self.longest)
        hi = bisect.bisect_left(self.starts, end)
        overlapping = [
            (self.starts[i], self.ends[i]) for i in range(lo, hi) if self.ends[i] > start
        ]
        if len(overlapping) < self.capacity:
            return True
        # The count changes only where an item starts: count at those instants.
        for t in [start] + [s for s, _ in overlapping if s > start]:
            if sum(1 for s, e in overlapping if s <= t < e) >= self.capacity:
                return False
        return True


@dataclass(frozen=True)
class PlannedItem:
    """An item of a visit that passed every check except the database's last word."""

    service: Service
    master: Master
    span: ItemSpan

    def starts_at(self, salon: Salon) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.span.start, salon.tz)

    def ends_at(self, salon: Salon) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.span.end, salon.tz)

    def blocked_until(self, salon: Salon) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.span.blocked_until, salon.tz)

    def processing(self, salon: Salon) -> tuple[dt.datetime, dt.datetime] | None:
        if self.span.processing is None:
            return None
        start, end = self.span.processing
        return dt.datetime.fromtimestamp(start, salon.tz), dt.datetime.fromtimestamp(end, salon.tz)


def resource_free(
    salon: Salon, service: Service, span: ItemSpan, resources: dict[int, ResourceIndex]
) -> bool:
    if service.resource_id is None:
        return True
    index = resources.get(service.resource_id)
    return index is None or index.has_room(span.start, span.end)


def plan_at(
    salon: Salon,
    services: Sequence[Service],
    start: float,
    allowed: Sequence[Sequence[Master]],
    busy: dict[int, BusyIndex],
    resources: dict[int, ResourceIndex],
    *,
    avoid: Sequence[frozenset[int]] = (),
) -> list[PlannedItem]:
    """The visit from `start`, each item with the first master of `allowed[i]` (those
    whose hours fit it, in the order asked) free then, not in `avoid[i]`.
    `SlotTaken` when an item has none, or its resource is full."""
    planned: list[PlannedItem] = []
    for i, (service, offset) in enumerate(zip(services, item_offsets(services), strict=True)):
        span = shifted(offset, start)
        local = dt.datetime.fromtimestamp(span.start, salon.tz)
        if not resource_free(salon, service, span, resources):
            raise SlotTaken(f"no {service.code!r} place is free at {local:%Y-%m-%d %H:%M}")
        skip = avoid[i] if i < len(avoid) else frozenset()
        master = next(
            (
                m
                for m in allowed[i]
                if m.id not in skip and busy.get(m.id, NOTHING_BOOKED).is_free_for(span)
            ),
            None,
        )
        if master is None:
            raise SlotTaken(f"{local:%Y-%m-%d %H:%M} is already taken")
        planned.append(PlannedItem(service, master, span))
    return planned


def fits_shift(windows: Sequence[Interval], span: ItemSpan) -> bool:
    return any(ws <= span.start and span.end <= we for ws, we in windows)


def refuse_unworkable(
    salon: Salon,
    service: Service,
    masters: Sequence[Master],
    refusals: Sequence[SlotUnavailable],
    local: dt.datetime,
) -> SlotUnavailable:
    """The refusal when no master's hours allow an item: the one reason when all agree."""
    if not refusals:
        return SlotUnavailable(f"no master does {service.code!r}")
    if len(masters) == 1 or len({str(r) for r in refusals}) == 1:
        return refusals[0]
    return SlotUnavailable(f"no master who does {service.code!r} works at {local:%Y-%m-%d %H:%M}")
