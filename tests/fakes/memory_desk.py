"""An in-memory `BookingDesk` for database-free tests of the assistant engines.

It applies the same rules as `PostgresDesk` with the same pure code: `check_bookable` for a
requested time, `slots_for_day` for free slots, the overlap rules the database's
exclusion constraints enforce (no two live bookings of one master overlap from start to
end plus buffer, no two of one customer from start to end) and the store's limit of live
bookings per customer, checked in the store's order. `salon_from_file` turns a salon file
into the `Salon` the engines read, without a database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING

from salonbot.booking import availability
from salonbot.booking.catalog import Master, Salon, Service, Shift
from salonbot.booking.codes import new_booking_code, normalize_booking_code
from salonbot.booking.salon_file import in_language, load_salon_file, per_language
from salonbot.booking.store import LIVE, Booking, normalize_phone
from salonbot.errors import (
    BookingLimitReached,
    BookingNotFound,
    ClientBusy,
    InvalidInput,
    SlotTaken,
    SlotUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from salonbot.booking.availability import Slot
    from salonbot.booking.salon_file import SalonFile


def salon_from_file(data: SalonFile | str | Path, *, salon_id: uuid.UUID | None = None) -> Salon:
    """The `Salon` an import of this file would load, ids numbered from 1."""
    file = load_salon_file(data) if isinstance(data, str | PurePath) else data
    services = {
        item.code: Service(
            id=index,
            code=item.code,
            names=dict(item.name),
            duration_minutes=item.duration_minutes,
            buffer_after_minutes=item.buffer_after_minutes,
            price=item.price,
            aliases={k: tuple(v) for k, v in item.aliases.items()},
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
    )


@dataclass
class _Entry:
    booking: Booking
    blocked_until: dt.datetime
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
        for entry in self.entries:
            master = self.salon.master(entry.booking.master_code)
            if entry.booking.status != LIVE or entry.booking.id == exclude:
                continue
            if master.id in busy:
                busy[master.id].append(
                    (entry.booking.starts_at.timestamp(), entry.blocked_until.timestamp())
                )
        for intervals in busy.values():
            intervals.sort()
        return busy


class MemoryDesk:
    """`BookingDesk` over a `Calendar`, for one customer at a fixed `now`."""

    def __init__(self, calendar: Calendar, phone: str, now: dt.datetime) -> None:
        self.calendar = calendar
        self.salon = calendar.salon
        self.phone = phone
        self.now = now

    # -- reading ----------------------------------------------------------------------------

    def services(self) -> list[Service]:
        return list(self.salon.services.values())

    def slots_on(
        self, service_code: str, day: dt.date, master_code: str | None = None
    ) -> list[Slot]:
        return self.slots_by_day(service_code, [day], master_code).get(day, [])

    def slots_by_day(
        self,
        service_code: str,
        days: Sequence[dt.date],
        master_code: str | None = None,
        *,
        exclude_booking: int | None = None,
        limit_days: int | None = None,
    ) -> dict[dt.date, list[Slot]]:
        service = self.salon.service(service_code)
        masters = availability.masters_for(self.salon, service, master_code)
        busy = self.calendar.busy([m.id for m in masters], exclude_booking)
        return availability.free_by_day(
            self.salon, service, masters, days, busy, self.now, limit_days
        )

    def earliest(
        self,
        service_code: str,
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

    # -- writing ----------------------------------------------------------------------------

    def book(
        self,
        service_code: str,
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
        service = self.salon.service(service_code)
        masters = availability.masters_for(self.salon, service, master_code)
        availability.require_aware(starts_at, "starts_at")
        limit = self.salon.max_live_bookings_per_client
        if len(self.upcoming()) >= limit:
            raise BookingLimitReached(
                f"the customer already has {len(self.upcoming())} upcoming booking(s); "
                f"the salon allows {limit} at a time",
                limit=limit,
            )
        self._refuse_own_overlap(service, starts_at, exclude=None)
        master, requested = self._free_master(service, masters, starts_at, exclude=None)
        booking = Booking(
            id=self.calendar.next_id,
            code=new_booking_code(),
            salon_id=self.salon.id,
            status=LIVE,
            service_code=service.code,
            service_names=dict(service.names),
            master_code=master.code,
            master_name=master.name,
            phone=phone,
            starts_at=requested.starts_at,
            ends_at=requested.ends_at,
            price=service.price,
        )
        self.calendar.next_id += 1
        self.calendar.entries.append(_Entry(booking, requested.blocked_until, source_message_id))
        return booking

    def move(self, code: str, starts_at: dt.datetime, master_code: str | None = None) -> Booking:
        entry = self._entry(code, live=True)
        self._refuse_started(entry.booking)
        service = self.salon.service(entry.booking.service_code)
        masters = availability.masters_for(self.salon, service, master_code)
        if master_code is None:  # the current master first when free then, as the store does
            masters.sort(key=lambda m: m.code != entry.booking.master_code)
        availability.require_aware(starts_at, "starts_at")
        self._refuse_own_overlap(service, starts_at, exclude=entry.booking.id)
        master, requested = self._free_master(service, masters, starts_at, exclude=entry.booking.id)
        entry.booking = dataclasses.replace(
            entry.booking,
            master_code=master.code,
            master_name=master.name,
            starts_at=requested.starts_at,
            ends_at=requested.ends_at,
        )
        entry.blocked_until = requested.blocked_until
        return entry.booking

    def cancel(self, code: str) -> Booking:
        entry = self._entry(code, live=True)
        self._refuse_started(entry.booking)
        entry.booking = dataclasses.replace(entry.booking, status="cancelled")
        return entry.booking

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
        self, service: Service, starts_at: dt.datetime, *, exclude: int | None
    ) -> None:
        """`ClientBusy` when the service from `starts_at` overlaps another of the
        customer's live, not yet over bookings (start to end, without the buffer)."""
        # Instants, as the database compares them (aware arithmetic is wall-clock).
        start = starts_at.timestamp()
        end = start + service.duration_minutes * 60
        for booking in self.upcoming():
            ours = booking.starts_at.timestamp(), booking.ends_at.timestamp()
            if booking.id != exclude and ours[0] < end and start < ours[1]:
                raise ClientBusy(
                    f"the customer already has booking {booking.code} "
                    f"{booking.starts_at:%Y-%m-%d %H:%M}-{booking.ends_at:%H:%M} at that time",
                    booking_code=booking.code,
                )

    def _free_master(
        self,
        service: Service,
        masters: list[Master],
        starts_at: dt.datetime,
        *,
        exclude: int | None,
    ) -> tuple[Master, availability.RequestedTime]:
        """The first of `masters` who may take the time and has no overlapping live
        booking; otherwise the store's own refusal (`SlotUnavailable` when no master's
        hours allow it, `SlotTaken` when all who could are busy)."""
        availability.require_aware(starts_at, "starts_at")
        allowed: list[tuple[Master, availability.RequestedTime]] = []
        refusals: list[SlotUnavailable] = []
        for master in masters:
            try:
                requested = availability.check_bookable(
                    self.salon, service, master, starts_at, self.now
                )
            except SlotUnavailable as exc:
                refusals.append(exc)
                continue
            allowed.append((master, requested))
        if not allowed:
            if not refusals:
                raise SlotUnavailable(f"no master does {service.code!r}")
            if len(masters) == 1 or len({str(r) for r in refusals}) == 1:
                raise refusals[0]
            local = starts_at.astimezone(self.salon.tz)
            raise SlotUnavailable(
                f"no master who does {service.code!r} works at {local:%Y-%m-%d %H:%M}"
            )
        busy = self.calendar.busy([m.id for m, _ in allowed], exclude)
        for master, requested in allowed:
            start, end = requested.starts_at.timestamp(), requested.blocked_until.timestamp()
            if all(e <= start or s >= end for s, e in busy[master.id]):
                return master, requested
        first = allowed[0][1].starts_at
        raise SlotTaken(f"{first:%Y-%m-%d %H:%M} is already taken")
