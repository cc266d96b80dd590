"""The booking desk: everything an assistant engine may do with a salon's calendar, for one
customer, at one instant.

An engine (the model's tools, the guided flow) gets one desk per turn instead of passing
`(conn, salon, phone, now)` to the store and the availability engine on its own. The desk
decides nothing new: `PostgresDesk` calls `booking.store` and `booking.availability` inside
the caller's transaction, so every guarantee they give (the database's exclusion
constraints, idempotent bookings per source message, `BookingNotFound` for another
customer's code) holds exactly as before. Unit tests of the engines use an in-memory desk
with the same protocol (`tests/fakes/memory_desk.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from salonbot.booking import availability, store

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from salonbot.booking.availability import Slot
    from salonbot.booking.catalog import Salon, Service
    from salonbot.booking.store import Booking
    from salonbot.db.connection import Connection


class BookingDesk(Protocol):
    """One customer's view of one salon's calendar at `now` (salon-local)."""

    salon: Salon
    phone: str  # E.164
    now: dt.datetime

    def services(self) -> list[Service]:
        """The services the salon offers, in salon order."""
        ...

    def slots_on(
        self, service_code: str | Sequence[str], day: dt.date, master_code: str | None = None
    ) -> list[Slot]:
        """Free start times on a local day; `master_code=None`: any master. Several
        service codes are one visit, back to back (each slot's `items` say who does what)."""
        ...

    def slots_by_day(
        self,
        service_code: str | Sequence[str],
        days: Sequence[dt.date],
        master_code: str | None = None,
        *,
        exclude_booking: int | None = None,
        limit_days: int | None = None,
    ) -> dict[dt.date, list[Slot]]:
        """Free slots per day (days without any are absent, at most `limit_days` of those
        with slots); the booking `exclude_booking` (one being moved) counts as free."""
        ...

    def earliest(
        self,
        service_code: str | Sequence[str],
        master_code: str | None = None,
        *,
        limit: int = 5,
        days: int | None = None,
    ) -> list[Slot]:
        """The first free slots from now on, within the booking horizon."""
        ...

    def upcoming(self) -> list[Booking]:
        """The customer's live bookings that are not over yet, by start."""
        ...

    def find(self, code: str) -> Booking:
        """The customer's booking with this code, any status (`BookingNotFound` else)."""
        ...

    def last_visit(self) -> Booking | None:
        """The customer's latest visit that has started, not cancelled (None: none yet)."""
        ...

    def book(
        self,
        service_code: str | Sequence[str],
        starts_at: dt.datetime,
        master_code: str | None = None,
        *,
        client_name: str | None = None,
        source_message_id: str | None = None,
    ) -> Booking:
        """Book (several service codes: one visit, back to back, all items or none), or
        return the booking `source_message_id` already made."""
        ...

    def move(self, code: str, starts_at: dt.datetime, master_code: str | None = None) -> Booking:
        """Move the customer's live visit, every item; refused moves leave it as it was.
        Inside the salon's `move_notice_minutes`: `ChangeTooLate` (staff can)."""
        ...

    def cancel(self, code: str) -> Booking:
        """Cancel the customer's live, not yet started booking. Inside the salon's
        `cancel_notice_minutes`: `ChangeTooLate` (staff can)."""
        ...

    def join_waitlist(self, service_code: str, day: dt.date, master_code: str | None) -> None:
        """Wait for a time to free up on a full day (`InvalidInput` for an unknown
        service or master, or a day past)."""
        ...


class PostgresDesk:
    """`BookingDesk` over the caller's connection: every call runs in its transaction
    (a savepoint of it), so effects commit or roll back with the turn."""

    def __init__(self, conn: Connection, salon: Salon, phone: str, now: dt.datetime) -> None:
        self.conn = conn
        self.salon = salon
        self.phone = phone  # the store normalises it on every call
        self.now = now

    def services(self) -> list[Service]:
        return list(self.salon.services.values())

    def slots_on(
        self, service_code: str | Sequence[str], day: dt.date, master_code: str | None = None
    ) -> list[Slot]:
        return availability.free_slots(
            self.conn, self.salon, service_code, day, master_code, now=self.now
        )

    def slots_by_day(
        self,
        service_code: str | Sequence[str],
        days: Sequence[dt.date],
        master_code: str | None = None,
        *,
        exclude_booking: int | None = None,
        limit_days: int | None = None,
    ) -> dict[dt.date, list[Slot]]:
        return availability.slots_by_day(
            self.conn,
            self.salon,
            service_code,
            days,
            master_code,
            now=self.now,
            exclude_booking=exclude_booking,
            limit_days=limit_days,
        )

    def earliest(
        self,
        service_code: str | Sequence[str],
        master_code: str | None = None,
        *,
        limit: int = 5,
        days: int | None = None,
    ) -> list[Slot]:
        return availability.earliest_slots(
            self.conn, self.salon, service_code, master_code, limit=limit, days=days, now=self.now
        )

    def upcoming(self) -> list[Booking]:
        return store.list_bookings(self.conn, self.salon, phone=self.phone, now=self.now)

    def find(self, code: str) -> Booking:
        return store.find_booking(self.conn, self.salon, phone=self.phone, code=code)

    def last_visit(self) -> Booking | None:
        return store.last_visit(self.conn, self.salon, phone=self.phone, now=self.now)

    def book(
        self,
        service_code: str | Sequence[str],
        starts_at: dt.datetime,
        master_code: str | None = None,
        *,
        client_name: str | None = None,
        source_message_id: str | None = None,
    ) -> Booking:
        return store.create_booking(
            self.conn,
            self.salon,
            phone=self.phone,
            service_code=service_code,
            starts_at=starts_at,
            master_code=master_code,
            client_name=client_name,
            source_message_id=source_message_id,
            now=self.now,
        )

    def move(self, code: str, starts_at: dt.datetime, master_code: str | None = None) -> Booking:
        return store.move_booking(
            self.conn,
            self.salon,
            phone=self.phone,
            code=code,
            starts_at=starts_at,
            master_code=master_code,
            now=self.now,
            by_customer=True,
        )

    def cancel(self, code: str) -> Booking:
        return store.cancel_booking(
            self.conn, self.salon, phone=self.phone, code=code, now=self.now, by_customer=True
        )

    def join_waitlist(self, service_code: str, day: dt.date, master_code: str | None) -> None:
        from salonbot.outbound import waitlist

        waitlist.join(
            self.conn,
            self.salon,
            phone=self.phone,
            service_code=service_code,
            day=day,
            master_code=master_code,
            now=self.now,
        )
