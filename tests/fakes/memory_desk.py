"""An in-memory `BookingDesk` for database-free tests of the assistant engines.

It applies the same rules as `PostgresDesk` with the same pure code: `allowed_per_item`
and `visits.plan_at` for a requested visit, `free_visit_by_day` for free slots, the
overlap rules the database enforces (no two live items of one master in different visits
overlap on the master's busy time, no two visits of one customer from start to end, no
resource over capacity) and the store's limit of live bookings per customer, checked in
the store's order. `salon_from_file` turns a salon file
into the `Salon` the engines read, without a database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING

from salonbot.booking import availability, visits
from salonbot.booking.catalog import Master, Resource, Salon, Service, Shift
from salonbot.booking.codes import new_booking_code, normalize_booking_code
from salonbot.booking.cutoffs import refuse_late_change
from salonbot.booking.salon_file import in_language, load_salon_file, per_language
from salonbot.booking.store import LIVE, Booking, normalize_phone, visit_booking
from salonbot.errors import (
    BookingLimitReached,
    BookingNotFound,
    ClientBusy,
    InvalidInput,
)
from salonbot.experiment import ModelExperiment

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from salonbot.booking.availability import Slot
    from salonbot.booking.salon_file import SalonFile
    from salonbot.booking.visits import PlannedItem


def salon_from_file(data: SalonFile | str | Path, *, salon_id: uuid.UUID | None = None) -> Salon:
    """The `Salon` an import of this file would load, ids numbered from 1."""
    file = load_salon_file(data) if isinstance(data, str | PurePath) else data
    resources = {
        item.code: Resource(id=index, code=item.code, capacity=item.capacity)
        for index, item in enumerate(file.resources, start=1)
    }
    services = {
        item.code: Service(
            id=index,
            code=item.code,
            names=dict(item.name),
            duration_minutes=item.duration_minutes,
            buffer_after_minutes=item.buffer_after_minutes,
            price=item.price,
            aliases={k: tuple(v) for k, v in item.aliases.items()},
            processing_minutes=item.processing_minutes,
            finishing_minutes=item.finishing_minutes,
            resource_id=resources[item.resource].id if item.resource else None,
        )
        for index, item in enumerate(file.services, start=1)
    }
    masters = {
        item.code: Master(
            id=index,
            code=item.code,
            name=in_language(item.name, file.language),
            names=per_language(item.name),
            service_ids=frozenset(services[code].id for code in item.services),
            shifts={
                day: tuple(Shift(r.start, r.end) for r in ranges)
                for day, ranges in item.shifts().items()
            },
            days_off=frozenset(item.days_off),
        )
        for index, item in enumerate(file.masters, start=1)
    }
    return Salon(
        id=salon_id or file.id or uuid.uuid4(),
        name=file.name,
        timezone=file.timezone,
        language=file.language,
        currency=file.currency,
        address=None if file.address is None else in_language(file.address, file.language),
        addresses=per_language(file.address),
        whatsapp_phone_number_id=file.whatsapp_phone_number_id,
        ai_enabled=file.ai_enabled,
        daily_budget_usd=file.daily_budget_usd,
        slot_step_minutes=file.slot_step_minutes,
        min_notice_minutes=file.min_notice_minutes,
        booking_horizon_days=file.booking_horizon_days,
        max_live_bookings_per_client=file.max_live_bookings_per_client,
        revision=1,
        services=services,
        masters=masters,
        customer_daily_budget_usd=file.customer_daily_budget_usd,
        resources=resources,
        cancel_notice_minutes=file.cancel_notice_minutes,
        move_notice_minutes=file.move_notice_minutes,
        model_experiment=ModelExperiment.from_json(
            file.model_experiment.model_dump() if file.model_experiment else None
        ),
    )


@dataclass
class _Entry:
    booking: Booking
    items: list[PlannedItem]
    source_message_id: str | None = None


@dataclass
class Calendar:
    """The salon's bookings, shared by the desks of several customers in one test."""

    salon: Salon
    entries: list[_Entry] = field(default_factory=list)
    next_id: int = 1

    def desk(self, phone: str, now: dt.datetime) -> MemoryDesk:
        return MemoryDesk(self, phone, now)

    def live(self) -> list[Booking]:
        return [e.booking for e in self.entries if e.booking.status == LIVE]

    def busy(self, master_ids: Sequence[int], exclude: int | None = None) -> availability.BusyTimes:
        busy: availability.BusyTimes = {master_id: [] for master_id in master_ids}
        for entry in self._live_entries(exclude):
            for item in entry.items:
                if item.master.id in busy:
                    busy[item.master.id].extend((s, e) for s, e in item.span.master_busy() if s < e)
        for intervals in busy.values():
            intervals.sort()
        return busy

    def resource_busy(self, exclude: int | None = None) -> availability.BusyTimes:
        used: availability.BusyTimes = {}
        for entry in self._live_entries(exclude):
            for item in entry.items:
                if item.service.resource_id is not None:
                    used.setdefault(item.service.resource_id, []).append(
                        (item.span.start, item.span.end)
                    )
        return used

    def _live_entries(self, exclude: int | None) -> list[_Entry]:
        return [e for e in self.entries if e.booking.status == LIVE and e.booking.id != exclude]


class MemoryDesk:
    """`BookingDesk` over a `Calendar`, for one customer at a fixed `now`."""

    def __init__(self, calendar: Calendar, phone: str, now: dt.datetime) -> None:
        self.calendar = calendar
        self.salon = calendar.salon
        self.phone = phone
        self.now = now
        self.waitlisted: list[tuple[str, dt.date, str | None]] = []

    # -- reading ----------------------------------------------------------------------------

    def services(self) -> list[Service]:
        return list(self.salon.services.values())

    def slots_on(
        self, service_code: str | Sequence[str], day: dt.date, master_code: str | None = None
    ) -> list[Slot]:
        return self.slots_by_day(service_code, [day], master_code).get(day, [])

    def slots_by_day(
        self,
        service_code: str | Sequence[str],
        days: Sequence[dt.date],
        master_code: str | None = None,
        *,
        exclude_booking: int | None = None,
        limit_days: int | None = None,
    ) -> dict[dt.date, list[Slot]]:
        services = visits.visit_services(self.salon, service_code)
        choices = visits.masters_per_item(self.salon, services, master_code)
        ids = list(dict.fromkeys(m.id for masters in choices for m in masters))
        return availability.free_visit_by_day(
            self.salon,
            services,
            choices,
            days,
            self.calendar.busy(ids, exclude_booking),
            self.now,
            limit_days,
            self.calendar.resource_busy(exclude_booking),
        )

    def earliest(
        self,
        service_code: str | Sequence[str],
        master_code: str | None = None,
        *,
        limit: int = 5,
        days: int | None = None,
    ) -> list[Slot]:
        if limit < 1:
            raise InvalidInput("must be at least 1", field="limit")
        found: list[Slot] = []
        search = availability.bookable_days(self.salon, self.now, days)
        for slots in self.slots_by_day(service_code, search, master_code).values():
            found.extend(slots)
            if len(found) >= limit:
                break
        return found[:limit]

    def upcoming(self) -> list[Booking]:
        phone = normalize_phone(self.phone)
        mine = [b for b in self.calendar.live() if b.phone == phone and b.ends_at > self.now]
        return sorted(mine, key=lambda b: (b.starts_at, b.id))

    def find(self, code: str) -> Booking:
        return self._entry(code, live=False).booking

    def last_visit(self) -> Booking | None:
        phone = normalize_phone(self.phone)
        started = [
            e.booking
            for e in self.calendar.entries
            if e.booking.phone == phone
            and e.booking.status in (LIVE, "completed")
            and e.booking.starts_at <= self.now
        ]
        return max(started, key=lambda b: (b.starts_at, b.id), default=None)

    # -- writing ----------------------------------------------------------------------------

    def book(
        self,
        service_code: str | Sequence[str],
        starts_at: dt.datetime,
        master_code: str | None = None,
        *,
        client_name: str | None = None,
        source_message_id: str | None = None,
    ) -> Booking:
        phone = normalize_phone(self.phone)
        if source_message_id is not None:
            for entry in self.calendar.entries:
                if entry.source_message_id == source_message_id:
                    return entry.booking
        services = visits.visit_services(self.salon, service_code)
        choices = visits.masters_per_item(self.salon, services, master_code)
        availability.require_aware(starts_at, "starts_at")
        limit = self.salon.max_live_bookings_per_client
        if len(self.upcoming()) >= limit:
            raise BookingLimitReached(
                f"the customer already has {len(self.upcoming())} upcoming booking(s); "
                f"the salon allows {limit} at a time",
                limit=limit,
            )
        self._refuse_own_overlap(services, starts_at, exclude=None)
        items = self._plan(services, choices, starts_at, exclude=None)
        booking = visit_booking(self.salon, self.calendar.next_id, new_booking_code(), phone, items)
        self.calendar.next_id += 1
        self.calendar.entries.append(_Entry(booking, items, source_message_id))
        return booking

    def move(self, code: str, starts_at: dt.datetime, master_code: str | None = None) -> Booking:
        entry = self._entry(code, live=True)
        self._refuse_started(entry.booking)
        refuse_late_change(
            self.salon, "move", entry.booking.code, entry.booking.starts_at, self.now
        )
        services = [item.service for item in entry.items]
        if master_code is not None:
            choices = visits.masters_per_item(self.salon, services, master_code)
        else:  # each item's current master first when free then, as the store does
            choices = [
                sorted(self.salon.masters_for(item.service), key=lambda m, i=item: m != i.master)
                for item in entry.items
            ]
        availability.require_aware(starts_at, "starts_at")
        self._refuse_own_overlap(services, starts_at, exclude=entry.booking.id)
        items = self._plan(services, choices, starts_at, exclude=entry.booking.id)
        moved = visit_booking(
            self.salon, entry.booking.id, entry.booking.code, entry.booking.phone, items
        )
        entry.booking = dataclasses.replace(moved, price=entry.booking.price)
        entry.items = items
        return entry.booking

    def cancel(self, code: str) -> Booking:
        entry = self._entry(code, live=True)
        self._refuse_started(entry.booking)
        refuse_late_change(
            self.salon, "cancel", entry.booking.code, entry.booking.starts_at, self.now
        )
        entry.booking = dataclasses.replace(entry.booking, status="cancelled")
        return entry.booking

    def join_waitlist(self, service_code: str, day: dt.date, master_code: str | None) -> None:
        if service_code not in self.salon.services:
            raise InvalidInput(f"unknown service {service_code!r}", field="service")
        self.waitlisted.append((service_code, day, master_code))

    # -- helpers ----------------------------------------------------------------------------

    def _entry(self, code: str, *, live: bool) -> _Entry:
        wanted = normalize_booking_code(code)
        phone = normalize_phone(self.phone)
        for entry in self.calendar.entries:
            booking = entry.booking
            same = booking.code == wanted and booking.phone == phone
            if same and (not live or booking.status == LIVE):
                return entry
        raise BookingNotFound(f"no booking {wanted!r} for this customer")

    def _refuse_started(self, booking: Booking) -> None:
        if booking.starts_at <= self.now:
            raise InvalidInput(f"booking {booking.code} has already started", field="code")

    def _refuse_own_overlap(
        self, services: Sequence[Service], starts_at: dt.datetime, *, exclude: int | None
    ) -> None:
        """`ClientBusy` when the visit from `starts_at` overlaps another of the
        customer's live, not yet over bookings (start to end, without the buffer)."""
        # Instants, as the database compares them (aware arithmetic is wall-clock).
        start = starts_at.timestamp()
        end = start + sum(service.duration_minutes for service in services) * 60
        for booking in self.upcoming():
            ours = booking.starts_at.timestamp(), booking.ends_at.timestamp()
            if booking.id != exclude and ours[0] < end and start < ours[1]:
                raise ClientBusy(
                    f"the customer already has booking {booking.code} "
                    f"{booking.starts_at:%Y-%m-%d %H:%M}-{booking.ends_at:%H:%M} at that time",
                    booking_code=booking.code,
                )

    def _plan(
        self,
        services: Sequence[Service],
        choices: Sequence[Sequence[Master]],
        starts_at: dt.datetime,
        *,
        exclude: int | None,
    ) -> list[PlannedItem]:
        """Each item with the first of its masters who may take it and is free then;
        otherwise the store's own refusal (`SlotUnavailable` when no master's hours allow
        an item, `SlotTaken` when all who could are busy or its resource is full)."""
        allowed = availability.allowed_per_item(self.salon, services, choices, starts_at, self.now)
        ids = list(dict.fromkeys(m.id for masters in allowed for m in masters))
        return visits.plan_at(
            self.salon,
            services,
            starts_at.timestamp(),
            allowed,
            availability.index_busy(self.calendar.busy(ids, exclude)),
            availability.index_resources(self.salon, self.calendar.resource_busy(exclude)),
        )
