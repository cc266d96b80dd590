"""The day's calendar as staff run it: the bookings of a day (per master), a booking for
a walk-in or phone customer, and a booking moved, cancelled or marked.

Every change goes through the booking store the customer's path uses
(`booking/store.py`), so the same rules (working hours, notice, horizon, the customer's
limit and calendar) and the database's constraints decide. A booking is found by its code
within the salon (staff act for any customer of theirs); the store then acts as that
customer. `arrived` is kept in `arrived_at` (migration 0012) and leaves the booking
confirmed, holding its time; `no_show` is the booking's status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.booking import store
from salonbot.booking.codes import normalize_booking_code
from salonbot.errors import BookingNotFound, InvalidInput

if TYPE_CHECKING:
    from decimal import Decimal

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection

ARRIVED, NO_SHOW, CANCELLED = "arrived", "no_show", "cancelled"
# A customer may be marked arrived from this long before their start.
ARRIVAL_EARLY = dt.timedelta(hours=2)


class BookingStateConflict(InvalidInput):
    """The booking is not in a state that allows the change (cancelled, already over)."""


@dataclass(frozen=True)
class DayBooking:
    code: str
    status: str  # confirmed | arrived | no_show | cancelled | completed
    service_code: str
    service_name: str
    master_code: str
    master_name: str
    phone: str
    customer_name: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    blocked_until: dt.datetime
    price: Decimal
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status,
            "service": self.service_code,
            "service_name": self.service_name,
            "master": self.master_code,
            "master_name": self.master_name,
            "phone": self.phone,
            "customer_name": self.customer_name,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "price": str(self.price),
            "source": self.source,
        }


_DAY_SQL = """
SELECT b.code, b.status, b.arrived_at, b.starts_at, b.ends_at, b.blocked_until, b.price,
       b.source, s.code AS service_code, s.names AS service_names,
       m.code AS master_code, m.name AS master_name,
       coalesce(c.phone, '') AS phone, c.name AS customer_name
  FROM bookings b
  JOIN services s ON s.id = b.service_id
  JOIN masters m ON m.id = b.master_id
  JOIN clients c ON c.id = b.client_id
 WHERE b.salon_id = %(salon)s
"""


def _status(row: dict[str, Any]) -> str:
    if row["status"] == store.LIVE and row["arrived_at"] is not None:
        return ARRIVED
    return str(row["status"])


def _from_row(salon: Salon, row: dict[str, Any]) -> DayBooking:
    names = dict(row["service_names"])
    return DayBooking(
        code=row["code"],
        status=_status(row),
        service_code=row["service_code"],
        service_name=names.get(salon.language) or next(iter(names.values()), ""),
        master_code=row["master_code"],
        master_name=row["master_name"],
        phone=row["phone"],
        customer_name=row["customer_name"],
        starts_at=row["starts_at"].astimezone(salon.tz),
        ends_at=row["ends_at"].astimezone(salon.tz),
        blocked_until=row["blocked_until"].astimezone(salon.tz),
        price=row["price"],
        source=row["source"],
    )


def day_bookings(
    conn: Connection,
    salon: Salon,
    day: dt.date,
    *,
    master_code: str | None = None,
    include_cancelled: bool = False,
) -> list[DayBooking]:
    """The bookings starting on the salon's local `day`, by master then start."""
    start = dt.datetime.combine(day, dt.time(), salon.tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), salon.tz)
    sql = _DAY_SQL + " AND b.starts_at >= %(start)s AND b.starts_at < %(end)s"
    params: dict[str, Any] = {"salon": salon.id, "start": start, "end": end}
    if master_code is not None:
        salon.master(master_code)  # UnknownMaster for a code the salon has not
        sql += " AND m.code = %(master)s"
        params["master"] = master_code
    if not include_cancelled:
        sql += " AND b.status <> 'cancelled'"
    sql += " ORDER BY m.code, b.starts_at, b.id"
    return [_from_row(salon, row) for row in conn.execute(sql, params).fetchall()]


def find_day_booking(conn: Connection, salon: Salon, code: str) -> DayBooking:
    row = conn.execute(
        _DAY_SQL + " AND b.code = %(code)s",
        {"salon": salon.id, "code": normalize_booking_code(code)},
    ).fetchone()
    if row is None:
        raise BookingNotFound(f"no booking {normalize_booking_code(code)!r} in this salon")
    return _from_row(salon, row)


def book_walk_in(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    service_code: str,
    starts_at: dt.datetime,
    master_code: str | None,
    name: str | None,
    now: dt.datetime,
) -> DayBooking:
    booking = store.create_booking(
        conn,
        salon,
        phone=phone,
        service_code=service_code,
        starts_at=starts_at,
        master_code=master_code,
        client_name=name,
        source="staff",
        now=now,
    )
    return find_day_booking(conn, salon, booking.code)


def move(
    conn: Connection,
    salon: Salon,
    code: str,
    *,
    starts_at: dt.datetime,
    master_code: str | None,
    now: dt.datetime,
) -> DayBooking:
    current = find_day_booking(conn, salon, code)
    _require_customer(current)
    store.move_booking(
        conn,
        salon,
        phone=current.phone,
        code=current.code,
        starts_at=starts_at,
        master_code=master_code,
        now=now,
    )
    return find_day_booking(conn, salon, code)


def mark(conn: Connection, salon: Salon, code: str, status: str, *, now: dt.datetime) -> DayBooking:
    """Cancel the booking, or mark the customer arrived or not come."""
    current = find_day_booking(conn, salon, code)
    if status == CANCELLED:
        _require_customer(current)
        store.cancel_booking(conn, salon, phone=current.phone, code=current.code, now=now)
        return find_day_booking(conn, salon, code)
    if current.status not in (store.LIVE, ARRIVED, NO_SHOW):
        raise BookingStateConflict(f"booking {current.code} is {current.status}", field="status")
    if status == ARRIVED:
        if current.status == NO_SHOW:  # its time may be someone else's by now
            raise BookingStateConflict(f"booking {current.code} is no_show", field="status")
        if now < current.starts_at - ARRIVAL_EARLY:
            raise BookingStateConflict(
                "a customer can be marked arrived from 2 hours before the start", field="status"
            )
        conn.execute(
            "UPDATE bookings SET status = 'confirmed', arrived_at = %s, updated_at = now() "
            "WHERE salon_id = %s AND code = %s",
            (now, salon.id, current.code),
        )
    elif status == NO_SHOW:
        if now < current.starts_at:
            raise BookingStateConflict(
                "a booking can be marked no-show once it has started", field="status"
            )
        conn.execute(
            "UPDATE bookings SET status = 'no_show', arrived_at = NULL, updated_at = now() "
            "WHERE salon_id = %s AND code = %s",
            (salon.id, current.code),
        )
    else:
        raise InvalidInput("must be arrived, no_show or cancelled", field="status")
    return find_day_booking(conn, salon, code)


def _require_customer(booking: DayBooking) -> None:
    if not booking.phone:
        raise BookingStateConflict(
            f"booking {booking.code} belongs to an anonymised client", field="code"
        )
