"""Bookings: create, cancel, move and list, for one customer (a phone number) of one salon.

Every function runs inside `conn.transaction()`: a savepoint when the caller already holds
a transaction (so a message's booking commits together with the caller's own records), a
transaction of its own otherwise. The code checks working hours, notice and horizon; the
database decides overlaps (exclusion constraint `bookings_no_overlap`), which this module
translates into `SlotTaken`. A booking code that belongs to another customer or salon is
`BookingNotFound`, exactly like a code that does not exist.

Per customer: a new booking is refused with `BookingLimitReached` when the customer
already holds the salon's `max_live_bookings_per_client` live, not yet over bookings, and
with `ClientBusy` when it would overlap one of them; those checks, and the client's row
lock that decides one customer's writes in turn, live in
`salonbot.booking.client_calendar`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors

from salonbot.booking.availability import (
    RequestedTime,
    check_bookable,
    fetch_busy,
    masters_for,
    require_aware,
    resolve_now,
)
from salonbot.booking.client_calendar import (
    CLIENT_OVERLAP_CONSTRAINT,  # noqa: F401  (re-exported: part of this module's names)
    at_limit,
    client_busy,
    client_calendar,
    client_overlap,
    limit_reached,
    upsert_client,
)
from salonbot.booking.codes import new_booking_code, normalize_booking_code
from salonbot.booking.time_locks import span_locks
from salonbot.errors import (
    BookingNotFound,
    ClientBusy,
    InvalidInput,
    SlotTaken,
    SlotUnavailable,
)
from salonbot.whatsapp.identity import is_user_id

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterator
    from decimal import Decimal

    from salonbot.booking.catalog import Master, Salon, Service
    from salonbot.db.connection import Connection

LIVE = "confirmed"
OVERLAP_CONSTRAINT = "bookings_no_overlap"
# How long a write waits on another customer's pending booking of the same time.
PENDING_WAIT_MS = 2000
CODE_CONSTRAINT = "bookings_code_key"
SOURCE_MESSAGE_CONSTRAINT = "bookings_source_message_id_key"
CODE_ATTEMPTS = 8

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class Booking:
    id: int
    code: str
    salon_id: uuid.UUID
    status: str
    service_code: str
    service_names: dict[str, str]
    master_code: str
    master_name: str
    phone: str
    starts_at: dt.datetime  # in the salon's timezone
    ends_at: dt.datetime
    price: Decimal


def normalize_phone(phone: str) -> str:
    """E.164 ("+79001234567"); spaces, dashes, dots and brackets are dropped first. A
    WhatsApp business-scoped user id (`US.13491208655302741918`), the key of a customer
    whose number WhatsApp withholds, is kept as it is."""
    stripped = (phone or "").strip()
    if is_user_id(stripped):
        return stripped
    cleaned = _PHONE_PUNCTUATION.sub("", stripped)
    if not _E164.match(cleaned):
        raise InvalidInput(
            "must be an E.164 phone number such as +79001234567, or a WhatsApp user id "
            "such as US.13491208655302741918",
            field="phone",
        )
    return cleaned


_SELECT = """
SELECT b.id, b.code, b.salon_id, b.status, b.starts_at, b.ends_at, b.price,
       b.master_id, b.service_id, b.client_id,
       s.code AS service_code, s.names AS service_names,
       m.code AS master_code, m.name AS master_name,
       coalesce(c.phone, '') AS phone  -- '' once the client is anonymised
  FROM bookings b
  JOIN services s ON s.id = b.service_id
  JOIN masters m ON m.id = b.master_id
  JOIN clients c ON c.id = b.client_id
"""


def _from_row(salon: Salon, row: dict[str, Any]) -> Booking:
    return Booking(
        id=row["id"],
        code=row["code"],
        salon_id=row["salon_id"],
        status=row["status"],
        service_code=row["service_code"],
        service_names=dict(row["service_names"]),
        master_code=row["master_code"],
        master_name=row["master_name"],
        phone=row["phone"],
        starts_at=row["starts_at"].astimezone(salon.tz),
        ends_at=row["ends_at"].astimezone(salon.tz),
        price=row["price"],
    )


def _by_source_message(conn: Connection, salon: Salon, message_id: str) -> Booking | None:
    row = conn.execute(_SELECT + " WHERE b.source_message_id = %s", (message_id,)).fetchone()
    if row is None:
        return None
    if row["salon_id"] != salon.id:
        raise InvalidInput("belongs to another salon's message", field="source_message_id")
    return _from_row(salon, row)


def _customer_booking(
    conn: Connection,
    salon: Salon,
    phone: str,
    code: str,
    *,
    live: bool,
    lock: bool,
    lock_client: bool = False,
) -> dict[str, Any]:
    sql = _SELECT + " WHERE b.code = %s AND b.salon_id = %s AND c.phone = %s"
    if live:
        sql += f" AND b.status = '{LIVE}'"
    if lock:
        sql += " FOR UPDATE OF b, c" if lock_client else " FOR UPDATE OF b"
    row = conn.execute(sql, (normalize_booking_code(code), salon.id, phone)).fetchone()
    if row is None:
        # Same answer whether the code is unknown or someone else's: never reveal which.
        raise BookingNotFound(f"no booking {normalize_booking_code(code)!r} for this customer")
    return row


def _service_end(service: Service, starts_at: dt.datetime) -> dt.datetime:
    """When the service ends, as `check_bookable` computes it: elapsed time, so a start in
    the repeated hour of a DST night ends after it (aware arithmetic is wall-clock)."""
    return starts_at.astimezone(dt.UTC) + dt.timedelta(minutes=service.duration_minutes)


def _bookable_masters(
    conn: Connection,
    salon: Salon,
    service: Service,
    masters: list[Master],
    starts_at: dt.datetime,
    now: dt.datetime,
    *,
    exclude_booking: int | None = None,
) -> list[tuple[Master, RequestedTime]]:
    """The masters, in order, whose hours allow the time and who look free then.

    SlotUnavailable when no master's hours allow it, SlotTaken when all who could are
    busy. Looking free is only a hint: the database has the final word on overlaps."""
    allowed: list[tuple[Master, RequestedTime]] = []
    refusals: list[SlotUnavailable] = []
    for master in masters:
        try:
            allowed.append((master, check_bookable(salon, service, master, starts_at, now)))
        except SlotUnavailable as exc:
            refusals.append(exc)
    if not allowed:
        if not refusals:
            raise SlotUnavailable(f"no master does {service.code!r}")
        if len(masters) == 1 or len({str(r) for r in refusals}) == 1:
            raise refusals[0]
        local = starts_at.astimezone(salon.tz)
        raise SlotUnavailable(
            f"no master who does {service.code!r} works at {local:%Y-%m-%d %H:%M}"
        )
    if len(allowed) == 1:
        return allowed
    requested = allowed[0][1]
    busy = fetch_busy(
        conn,
        salon,
        [m.id for m, _ in allowed],
        requested.starts_at.timestamp(),
        requested.blocked_until.timestamp(),
        exclude_booking=exclude_booking,
    )
    free = [(m, r) for m, r in allowed if not busy[m.id]]
    if not free:
        raise SlotTaken(f"{requested.starts_at:%Y-%m-%d %H:%M} is already taken")
    return free


@contextmanager
def _master_time_turn(conn: Connection, master: Master, requested: RequestedTime) -> Iterator[None]:
    """Take the master's requested time in turn for one write (the body of the `with`).

    The exclusion constraint alone is correct, but when several transactions insert
    overlapping rows at the same moment each may see the others' uncommitted rows and wait
    for them: PostgreSQL then breaks the cycle with deadlock errors after a second.
    Advisory locks on the blocks of time the booking covers (`salonbot.booking.time_locks`)
    queue the writers of overlapping times, while writers of other times that day never
    wait on each other. The locks are transaction-level: a written booking keeps its time
    locked until the caller's transaction ends (it is pending until then anyway), a
    refused write gives it back at once (the savepoint around locks and write is rolled
    back), and nothing is left on the session, which RDS Proxy would pin for good and a
    transaction pooler would hand to other clients.

    A write that meets another customer's booking still pending (not yet committed) waits
    at most `PENDING_WAIT_MS` and is then refused as taken: that time is being booked."""
    locks = span_locks(requested.starts_at, requested.blocked_until)
    with conn.transaction():
        # The short wait applies to the locks only: the write itself, waiting behind a
        # table lock say, runs under the caller's lock and statement timeouts.
        row = conn.execute(
            "WITH previous AS MATERIALIZED (SELECT current_setting('lock_timeout') AS value) "
            "SELECT value, set_config('lock_timeout', %s, true) FROM previous",
            (str(PENDING_WAIT_MS),),
        ).fetchone()
        assert row is not None
        conn.execute(
            """
            SELECT CASE WHEN l.exclusive THEN pg_advisory_xact_lock(%(master)s, l.key)
                        ELSE pg_advisory_xact_lock_shared(%(master)s, l.key) END
              FROM unnest(%(keys)s::int4[], %(exclusive)s::bool[])
                   WITH ORDINALITY AS l(key, exclusive, n)
             ORDER BY l.n
            """,
            {
                "master": master.id & 0x7FFFFFFF,
                "keys": [lock.key for lock in locks],
                "exclusive": [lock.exclusive for lock in locks],
            },
        )
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (row["value"],))
        yield


# What a competing booking makes a write fail with: an overlap, one still pending past
# the wait, or PostgreSQL breaking a wait cycle between two writers.
_COMPETING_WRITE_ERRORS = (
    pg_errors.ExclusionViolation,
    pg_errors.LockNotAvailable,
    pg_errors.DeadlockDetected,
)


def _refused_write(exc: psycopg.Error) -> bool:
    """The write lost to a competing booking (an exclusion violation of another
    constraint is not one)."""
    return not isinstance(exc, pg_errors.ExclusionViolation) or _slot_taken(exc)


def _slot_taken(exc: psycopg.Error) -> bool:
    return (
        isinstance(exc, pg_errors.ExclusionViolation)
        and exc.diag.constraint_name == OVERLAP_CONSTRAINT
    )


class _DuplicateSourceMessage(Exception):
    """Another transaction committed a booking for the same inbound message first."""


def _insert(
    conn: Connection,
    salon: Salon,
    service: Service,
    master: Master,
    requested: RequestedTime,
    *,
    client_id: int,
    phone: str,
    source: str,
    source_message_id: str | None,
) -> Booking:
    for _ in range(CODE_ATTEMPTS):
        code = new_booking_code()
        try:
            with _master_time_turn(conn, master, requested):
                row = conn.execute(
                    """
                    INSERT INTO bookings (code, salon_id, master_id, service_id, client_id,
                                          starts_at, ends_at, blocked_until, price, source,
                                          source_message_id)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    RETURNING id
                    """,
                    (
                        code,
                        salon.id,
                        master.id,
                        service.id,
                        client_id,
                        requested.starts_at,
                        requested.ends_at,
                        requested.blocked_until,
                        service.price,
                        source,
                        source_message_id,
                    ),
                ).fetchone()
        except _COMPETING_WRITE_ERRORS as exc:
            if client_overlap(exc):
                raise ClientBusy("the customer already has a booking at that time") from exc
            if _refused_write(exc):
                raise SlotTaken(
                    f"{master.name} is already booked at {requested.starts_at:%Y-%m-%d %H:%M}"
                ) from exc
            raise
        except pg_errors.UniqueViolation as exc:
            if exc.diag.constraint_name == CODE_CONSTRAINT:
                continue
            if exc.diag.constraint_name == SOURCE_MESSAGE_CONSTRAINT:
                raise _DuplicateSourceMessage from exc
            raise
        assert row is not None
        return Booking(
            id=row["id"],
            code=code,
            salon_id=salon.id,
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
    raise RuntimeError(f"no unused booking code after {CODE_ATTEMPTS} attempts")


def create_booking(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    service_code: str,
    starts_at: dt.datetime,
    master_code: str | None = None,
    client_name: str | None = None,
    source: str = "whatsapp",
    source_message_id: str | None = None,
    now: dt.datetime | None = None,
) -> Booking:
    """Book `service_code` at `starts_at` with the named master, or with the first master
    (salon order) free then. The same `source_message_id` twice returns the first booking.

    Refused with `BookingLimitReached` when the customer already holds the salon's limit
    of live bookings, and with `ClientBusy` when the time overlaps one of them."""
    phone = normalize_phone(phone)
    service = salon.service(service_code)
    masters = masters_for(salon, service, master_code)
    require_aware(starts_at, "starts_at")
    current = resolve_now(salon, now)
    with conn.transaction():
        if source_message_id is not None:
            existing = _by_source_message(conn, salon, source_message_id)
            if existing is not None:
                return existing
        # The upsert locks the client's row until the transaction ends (ON CONFLICT DO
        # UPDATE locks the row it updates; a new row's twin waits on the unique index):
        # this customer's other creates and moves wait here, and what we count next stays
        # true until we commit.
        client_id = upsert_client(conn, salon, phone, client_name)
        mine = client_calendar(
            conn, client_id, starts_at, _service_end(service, starts_at), current
        )
        if at_limit(salon, mine) or mine.overlapping is not None:
            # A redelivered message whose twin committed while we waited for the lock.
            if source_message_id is not None:
                existing = _by_source_message(conn, salon, source_message_id)
                if existing is not None:
                    return existing
            if at_limit(salon, mine):
                raise limit_reached(salon, mine)
            assert mine.overlapping is not None
            raise client_busy(salon, mine.overlapping)
        candidates = _bookable_masters(conn, salon, service, masters, starts_at, current)
        taken: SlotTaken | None = None
        for master, requested in candidates:
            try:
                return _insert(
                    conn,
                    salon,
                    service,
                    master,
                    requested,
                    client_id=client_id,
                    phone=phone,
                    source=source,
                    source_message_id=source_message_id,
                )
            except (SlotTaken, _DuplicateSourceMessage) as exc:
                # A redelivered message racing its twin: the twin's booking is the answer.
                if source_message_id is not None:
                    existing = _by_source_message(conn, salon, source_message_id)
                    if existing is not None:
                        return existing
                if isinstance(exc, _DuplicateSourceMessage | ClientBusy):
                    raise  # another master would not help
                taken = exc
        assert taken is not None
        raise taken


def _refuse_started(row: dict[str, Any], now: dt.datetime) -> None:
    if row["starts_at"] <= now:
        raise InvalidInput(f"booking {row['code']} has already started", field="code")


def cancel_booking(
    conn: Connection, salon: Salon, *, phone: str, code: str, now: dt.datetime | None = None
) -> Booking:
    """Cancel the customer's live, not yet started booking; its time is free again."""
    phone = normalize_phone(phone)
    current = resolve_now(salon, now)
    with conn.transaction():
        row = _customer_booking(conn, salon, phone, code, live=True, lock=True)
        _refuse_started(row, current)
        conn.execute(
            """
            UPDATE bookings SET status = 'cancelled', cancelled_at = %s, updated_at = now()
             WHERE id = %s
            """,
            (current, row["id"]),
        )
    return dataclasses.replace(_from_row(salon, row), status="cancelled")


def move_booking(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    code: str,
    starts_at: dt.datetime,
    master_code: str | None = None,
    now: dt.datetime | None = None,
) -> Booking:
    """Move the customer's live booking to `starts_at`, checked like a new booking.

    `master_code=None` keeps the current master when free then, else the first free
    master who does the service. The row is updated in place, so the new time may overlap
    the old one; when the new time is refused the booking stays exactly as it was. A time
    overlapping the customer's other booking is refused with `ClientBusy`."""
    phone = normalize_phone(phone)
    require_aware(starts_at, "starts_at")
    current = resolve_now(salon, now)
    with conn.transaction():
        # The client's row too: this customer's creates and moves are decided in turn.
        row = _customer_booking(conn, salon, phone, code, live=True, lock=True, lock_client=True)
        _refuse_started(row, current)
        service = salon.service_by_id(row["service_id"])
        if master_code is not None:
            masters = masters_for(salon, service, master_code)
        else:
            everyone = masters_for(salon, service, None)
            masters = sorted(everyone, key=lambda m: m.id != row["master_id"])
        mine = client_calendar(
            conn,
            row["client_id"],
            starts_at,
            _service_end(service, starts_at),
            current,
            exclude_booking=row["id"],
        )
        if mine.overlapping is not None:
            raise client_busy(salon, mine.overlapping)
        candidates = _bookable_masters(
            conn, salon, service, masters, starts_at, current, exclude_booking=row["id"]
        )
        taken: SlotTaken | None = None
        for master, requested in candidates:
            try:
                with _master_time_turn(conn, master, requested):
                    conn.execute(
                        """
                        UPDATE bookings
                           SET master_id = %s, starts_at = %s, ends_at = %s,
                               blocked_until = %s, updated_at = now()
                         WHERE id = %s
                        """,
                        (
                            master.id,
                            requested.starts_at,
                            requested.ends_at,
                            requested.blocked_until,
                            row["id"],
                        ),
                    )
            except _COMPETING_WRITE_ERRORS as exc:
                if client_overlap(exc):
                    raise ClientBusy("the customer already has a booking at that time") from exc
                if not _refused_write(exc):
                    raise
                taken = SlotTaken(
                    f"{master.name} is already booked at {requested.starts_at:%Y-%m-%d %H:%M}"
                )
                taken.__cause__ = exc
                continue
            return dataclasses.replace(
                _from_row(salon, row),
                master_code=master.code,
                master_name=master.name,
                starts_at=requested.starts_at,
                ends_at=requested.ends_at,
            )
        assert taken is not None
        raise taken


def find_booking(conn: Connection, salon: Salon, *, phone: str, code: str) -> Booking:
    """The customer's booking with this code, whatever its status."""
    phone = normalize_phone(phone)
    with conn.transaction():
        return _from_row(salon, _customer_booking(conn, salon, phone, code, live=False, lock=False))


def list_bookings(
    conn: Connection,
    salon: Salon,
    *,
    phone: str | None = None,
    upcoming_only: bool = True,
    now: dt.datetime | None = None,
) -> list[Booking]:
    """The salon's bookings (one customer's with `phone`), by start time. Upcoming means
    live and not yet over; otherwise every status, past ones included."""
    conditions = ["b.salon_id = %s"]
    params: list[Any] = [salon.id]
    if phone is not None:
        conditions.append("c.phone = %s")
        params.append(normalize_phone(phone))
    if upcoming_only:
        conditions.append(f"b.status = '{LIVE}' AND b.ends_at > %s")
        params.append(resolve_now(salon, now))
    sql = _SELECT + " WHERE " + " AND ".join(conditions) + " ORDER BY b.starts_at, b.id"
    with conn.transaction():
        rows = conn.execute(sql, params).fetchall()
    return [_from_row(salon, row) for row in rows]
