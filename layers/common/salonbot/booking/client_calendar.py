"""The customer's own calendar: the checks a booking passes against the customer's other
bookings, whatever the master.

Per customer, a salon allows at most `max_live_bookings_per_client` live, not yet over
bookings, none of them overlapping another (constraint `bookings_client_no_overlap`,
start to end of the service: the buffer is the master's time). The store upserts or
locks the client's row first (`upsert_client`, or `FOR UPDATE` in a move), then reads
the calendar (`client_calendar`) under that lock, so one customer's concurrent creates
and moves are decided one after the other and cannot pass the limit together. The
constraint is the guarantee behind the check (`client_overlap`).

Kept apart from `salonbot.booking.store`, which decides the master's time: this module
knows only the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import errors as pg_errors

from salonbot.errors import BookingLimitReached, ClientBusy

if TYPE_CHECKING:
    import datetime as dt

    import psycopg

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection

CLIENT_OVERLAP_CONSTRAINT = "bookings_client_no_overlap"


def upsert_client(conn: Connection, salon: Salon, phone: str, name: str | None) -> int:
    """The client's id, the row created when new. Locks the row until the transaction
    ends (ON CONFLICT DO UPDATE locks the row it updates; a new row's twin waits on the
    unique index)."""
    row = conn.execute(
        """
        INSERT INTO clients (salon_id, phone, name) VALUES (%s, %s, %s)
        ON CONFLICT (salon_id, phone)
        DO UPDATE SET name = coalesce(EXCLUDED.name, clients.name)
        RETURNING id
        """,
        (salon.id, phone, name),
    ).fetchone()
    assert row is not None
    client_id: int = row["id"]
    return client_id


def change_client_phone(conn: Connection, salon_id: object, old: str, new: str) -> bool:
    """The customer's number changed (WhatsApp's `user_changed_number`): their client row,
    and so their bookings, move to the new number. False when there is no client under
    the old number, or the new number already has one (both are left as they are)."""
    row = conn.execute(
        """
        UPDATE clients SET phone = %(new)s
         WHERE salon_id = %(salon)s AND phone = %(old)s
           AND NOT EXISTS (SELECT 1 FROM clients WHERE salon_id = %(salon)s AND phone = %(new)s)
        RETURNING id
        """,
        {"salon": salon_id, "old": old, "new": new},
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class ClientCalendar:
    live: int  # live bookings not yet over
    overlapping: dict[str, Any] | None  # the first of them overlapping the asked time


def client_calendar(
    conn: Connection,
    client_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    now: dt.datetime,
    *,
    exclude_booking: int | None = None,
) -> ClientCalendar:
    """The customer's live, not yet over bookings (other than `exclude_booking`): how
    many, and the first overlapping `starts_at`..`ends_at`. Read under the client's row
    lock, so no other write of this customer can change the answer before ours."""
    row = conn.execute(
        """
        WITH mine AS (
            SELECT code, starts_at, ends_at FROM bookings
             WHERE client_id = %s AND status = 'confirmed' AND ends_at > %s
               AND id IS DISTINCT FROM %s)
        SELECT (SELECT count(*) FROM mine) AS live, o.code, o.starts_at, o.ends_at
          FROM (SELECT) AS one
          LEFT JOIN LATERAL (
                SELECT * FROM mine
                 WHERE tstzrange(starts_at, ends_at, '[)') && tstzrange(%s, %s, '[)')
                 ORDER BY starts_at LIMIT 1) AS o ON true
        """,
        (client_id, now, exclude_booking, starts_at, ends_at),
    ).fetchone()
    assert row is not None
    return ClientCalendar(live=row["live"], overlapping=row if row["code"] else None)


def at_limit(salon: Salon, calendar: ClientCalendar) -> bool:
    """A new booking would pass the salon's limit of live bookings per customer."""
    return calendar.live >= salon.max_live_bookings_per_client


def limit_reached(salon: Salon, calendar: ClientCalendar) -> BookingLimitReached:
    return BookingLimitReached(
        f"the customer already has {calendar.live} upcoming booking(s); the salon "
        f"allows {salon.max_live_bookings_per_client} at a time",
        limit=salon.max_live_bookings_per_client,
    )


def client_busy(salon: Salon, overlapping: dict[str, Any]) -> ClientBusy:
    starts = overlapping["starts_at"].astimezone(salon.tz)
    ends = overlapping["ends_at"].astimezone(salon.tz)
    return ClientBusy(
        f"the customer already has booking {overlapping['code']} "
        f"{starts:%Y-%m-%d %H:%M}-{ends:%H:%M} at that time",
        booking_code=overlapping["code"],
    )


def client_overlap(exc: psycopg.Error) -> bool:
    """The customer's own other booking is in the way. The store checks that first
    under the client's lock; the constraint is the guarantee behind the check."""
    return (
        isinstance(exc, pg_errors.ExclusionViolation)
        and exc.diag.constraint_name == CLIENT_OVERLAP_CONSTRAINT
    )
