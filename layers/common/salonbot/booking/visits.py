"""Staff mark a visit: the customer arrived, or did not come (a no-show).

`mark_visit` is the one place that decides it, for the CLI (`salonbot bookings mark CODE
--arrived | --no-show`) and the staff API (`PATCH /api/v1/staff/bookings/{code}`). A
booking code is unique across salons; with `salon_id` a code of another salon is
`BookingNotFound`, like one that does not exist. A cancelled booking cannot be marked,
nor one long before its time (arrived from `EARLY_ARRIVAL` before the start, a no-show
only once it started); staff may correct a mark (arrived <-> no-show). A no-show frees
nothing: the time has passed, and a marked booking no longer holds its master's time.
`no_shows` counts a client's no-shows in a salon."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from salonbot.booking.catalog import load_salon
from salonbot.booking.codes import normalize_booking_code
from salonbot.booking.store import _SELECT, Booking, _from_row, normalize_phone
from salonbot.errors import BookingNotFound, InvalidInput

if TYPE_CHECKING:
    import uuid

    from salonbot.db.connection import Connection

ARRIVED, NO_SHOW = "arrived", "no_show"
OUTCOMES = (ARRIVED, NO_SHOW)
EARLY_ARRIVAL = dt.timedelta(minutes=30)
_MARKABLE = ("confirmed", ARRIVED, NO_SHOW)


def mark_visit(
    conn: Connection,
    code: str,
    outcome: str,
    *,
    salon_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Booking:
    """Mark the booking `code` as `arrived` or `no_show`; the booking as marked."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"must be one of {', '.join(OUTCOMES)}", field="status")
    current = now or dt.datetime.now(dt.UTC)
    key = normalize_booking_code(code)
    with conn.transaction():
        sql = _SELECT + " WHERE b.code = %s"
        params: list[object] = [key]
        if salon_id is not None:
            sql += " AND b.salon_id = %s"
            params.append(salon_id)
        row = conn.execute(sql + " FOR UPDATE OF b", params).fetchone()
        if row is None:
            raise BookingNotFound(f"no booking {key!r}")
        if row["status"] not in _MARKABLE:
            raise InvalidInput(f"booking {key} is {row['status']}: it cannot be marked", "code")
        earliest = row["starts_at"] - (EARLY_ARRIVAL if outcome == ARRIVED else dt.timedelta())
        if current < earliest:
            raise InvalidInput(
                f"booking {key} starts at {row['starts_at']:%Y-%m-%d %H:%M %Z}: "
                f"too early to mark it {outcome}",
                field="code",
            )
        conn.execute(
            "UPDATE bookings SET status = %s, updated_at = now() WHERE id = %s",
            (outcome, row["id"]),
        )
        salon = load_salon(conn, row["salon_id"])
    booking = _from_row(salon, row)
    return Booking(**{**booking.__dict__, "status": outcome})


def no_shows(conn: Connection, salon_id: uuid.UUID, phone: str) -> int:
    """How many of the client's bookings in the salon were marked no-show."""
    row = conn.execute(
        "SELECT count(*) AS n FROM bookings b JOIN clients c ON c.id = b.client_id "
        "WHERE b.salon_id = %s AND c.phone = %s AND b.status = 'no_show'",
        (salon_id, normalize_phone(phone)),
    ).fetchone()
    return int(row["n"]) if row else 0
