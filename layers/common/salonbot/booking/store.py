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
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors

from salonbot.booking import visits
from salonbot.booking.availability import (
    allowed_per_item,
    fetch_calendar,
    index_busy,
    index_resources,
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
from salonbot.booking.cutoffs import refuse_late_change
from salonbot.booking.time_locks import span_locks
from salonbot.errors import (
    BookingNotFound,
    ClientBusy,
    InvalidInput,
    SlotTaken,
)
from salonbot.whatsapp.identity import is_user_id

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterator, Sequence

    from salonbot.booking.catalog import Master, Salon, Service
    from salonbot.booking.visits import PlannedItem
    from salonbot.db.connection import Connection

LIVE = "confirmed"
OVERLAP_CONSTRAINT = "bookings_no_overlap"  # on booking_items, per item
RESOURCE_CONSTRAINT = "booking_items_resource_capacity"
# How long a write waits on another customer's pending booking of the same time.
PENDING_WAIT_MS = 2000
CODE_CONSTRAINT = "bookings_code_key"
SOURCE_MESSAGE_CONSTRAINT = "bookings_source_message_id_key"
CODE_ATTEMPTS = 8

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class BookingItem:
    """One service of a visit, with its master and time."""

    service_code: str
    service_names: dict[str, str]
    master_code: str
    master_name: str
    starts_at: dt.datetime  # in the salon's timezone
    ends_at: dt.datetime
    price: Decimal


@dataclass(frozen=True)
class Booking:
    """A visit: one or more items back to back. `service_*` and `master_*` are the first
    item's, `starts_at` / `ends_at` the visit's, `price` the items' sum."""

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
    # The customer confirmed the visit (a reminder's "Confirm"); cleared by a move.
    customer_confirmed_at: dt.datetime | None = None
    items: tuple[BookingItem, ...] = ()


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
       b.customer_confirmed_at, b.master_id, b.service_id, b.client_id,
       s.code AS service_code, s.names AS service_names,
       m.code AS master_code, m.name AS master_name,
       coalesce(c.phone, '') AS phone,  -- '' once the client is anonymised
       (SELECT json_agg(json_build_object(
                   'service_id', i.service_id, 'master_id', i.master_id,
                   'service_code', si.code, 'service_names', si.names,
                   'master_code', mi.code, 'master_name', mi.name,
                   'starts', extract(epoch FROM i.starts_at),
                   'ends', extract(epoch FROM i.ends_at), 'price', i.price::text)
                 ORDER BY i.position)
          FROM booking_items i
          JOIN services si ON si.id = i.service_id
          JOIN masters mi ON mi.id = i.master_id
         WHERE i.booking_id = b.id) AS items
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
        customer_confirmed_at=row.get("customer_confirmed_at"),
        items=tuple(
            BookingItem(
                service_code=item["service_code"],
                service_names=dict(item["service_names"]),
                master_code=item["master_code"],
                master_name=item["master_name"],
                starts_at=dt.datetime.fromtimestamp(float(item["starts"]), salon.tz),
                ends_at=dt.datetime.fromtimestamp(float(item["ends"]), salon.tz),
                price=Decimal(str(item["price"])),
            )
            for item in row["items"] or ()
        ),
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


def _visit_end(services: Sequence[Service], starts_at: dt.datetime) -> dt.datetime:
    """When the visit's last service ends: elapsed time, so a start in the repeated hour
    of a DST night ends after it (aware arithmetic is wall-clock)."""
    minutes = sum(service.duration_minutes for service in services)
    return starts_at.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)


def _plan(
    conn: Connection,
    salon: Salon,
    services: Sequence[Service],
    allowed: Sequence[Sequence[Master]],
    starts_at: dt.datetime,
    avoid: Sequence[frozenset[int]],
    *,
    exclude_booking: int | None = None,
) -> list[PlannedItem]:
    """The visit's items with the first allowed master free for each (not in `avoid`).

    When each item has one master and no resource, the database alone decides (no read).
    Looking free is only a hint: the database has the final word on overlaps."""
    start = starts_at.timestamp()
    resource_ids = list(dict.fromkeys(s.resource_id for s in services if s.resource_id))
    if all(len(masters) == 1 for masters in allowed) and not resource_ids and not any(avoid):
        return [
            visits.PlannedItem(service, masters[0], visits.shifted(offset, start))
            for service, masters, offset in zip(
                services, allowed, visits.item_offsets(services), strict=True
            )
        ]
    length = max(span.blocked_until for span in visits.item_offsets(services))
    busy, used = fetch_calendar(
        conn,
        salon,
        list(dict.fromkeys(m.id for masters in allowed for m in masters)),
        resource_ids,
        start,
        start + length,
        exclude_booking=exclude_booking,
    )
    return visits.plan_at(
        salon,
        services,
        start,
        allowed,
        index_busy(busy),
        index_resources(salon, used),
        avoid=avoid,
    )


@contextmanager
def _masters_time_turn(conn: Connection, items: Sequence[PlannedItem]) -> Iterator[None]:
    """Take the masters' requested time in turn for one write (the body of the `with`).

    The exclusion constraint alone is correct, but when several transactions insert
    overlapping rows at the same moment each may see the others' uncommitted rows and wait
    for them: PostgreSQL then breaks the cycle with deadlock errors after a second.
    Advisory locks on the blocks of time each item's master is taken
    (`salonbot.booking.time_locks`) queue the writers of overlapping times, while writers
    of other times that day never wait on each other. All of a visit's keys are taken in
    one ascending order (master, key), so visits with several masters never deadlock on
    them. The locks are transaction-level: a written booking keeps its time locked until
    the caller's transaction ends (it is pending until then anyway), a refused write gives
    it back at once (the savepoint around locks and write is rolled back), and nothing is
    left on the session, which RDS Proxy would pin for good and a transaction pooler would
    hand to other clients.

    A write that meets another customer's booking still pending (not yet committed) waits
    at most `PENDING_WAIT_MS` and is then refused as taken: that time is being booked."""
    wanted: dict[tuple[int, int], bool] = {}
    for item in items:
        master = item.master.id & 0x7FFFFFFF
        for start, end in item.span.master_busy():
            if start >= end:
                continue
            for lock in span_locks(
                dt.datetime.fromtimestamp(start, dt.UTC), dt.datetime.fromtimestamp(end, dt.UTC)
            ):
                key = (master, lock.key)
                wanted[key] = wanted.get(key, False) or lock.exclusive
    ordered = sorted(wanted)
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
            SELECT CASE WHEN l.exclusive THEN pg_advisory_xact_lock(l.master, l.key)
                        ELSE pg_advisory_xact_lock_shared(l.master, l.key) END
              FROM unnest(%(masters)s::int4[], %(keys)s::int4[], %(exclusive)s::bool[])
                   WITH ORDINALITY AS l(master, key, exclusive, n)
             ORDER BY l.n
            """,
            {
                "masters": [master for master, _ in ordered],
                "keys": [key for _, key in ordered],
                "exclusive": [wanted[k] for k in ordered],
            },
        )
        resources = resource_block_keys(items)
        if resources:
            # The capacity trigger's own locks, taken here first under the short wait: a
            # writer meeting another customer's pending booking of the resource at that
            # time is refused as taken instead of waiting for that turn to end.
            conn.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::int8[]) WITH ORDINALITY"
                " AS l(k, n) ORDER BY l.n",
                (resources,),
            )
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (row["value"],))
        yield


# A resource lock's key, as the capacity trigger of migration 0018 builds it:
# (82 << 56) | (resource id << 24) | the 15-minute block since the epoch.
RESOURCE_LOCK_TAG = 82
RESOURCE_BLOCK_S = 900


def resource_block_keys(items: Sequence[PlannedItem]) -> list[int]:
    """The advisory-lock keys of the resources' 15-minute blocks the items hold,
    ascending: exactly those the capacity trigger takes."""
    keys: set[int] = set()
    for item in items:
        resource = item.service.resource_id
        if resource is None:
            continue
        first = math.floor(item.span.start / RESOURCE_BLOCK_S)
        last = math.ceil(item.span.end / RESOURCE_BLOCK_S) - 1
        keys.update(
            RESOURCE_LOCK_TAG << 56 | resource << 24 | block for block in range(first, last + 1)
        )
    return sorted(keys)


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
    return isinstance(exc, pg_errors.ExclusionViolation) and exc.diag.constraint_name in (
        OVERLAP_CONSTRAINT,
        RESOURCE_CONSTRAINT,
    )


def _taken(salon: Salon, items: Sequence[PlannedItem], exc: psycopg.Error) -> SlotTaken:
    if isinstance(exc, pg_errors.ExclusionViolation) and (
        exc.diag.constraint_name == RESOURCE_CONSTRAINT
    ):
        what = f"no place is free at {items[0].starts_at(salon):%Y-%m-%d %H:%M}"
    elif len(items) == 1:
        master = items[0].master
        what = f"{master.name} is already booked at {items[0].starts_at(salon):%Y-%m-%d %H:%M}"
    else:
        what = f"{items[0].starts_at(salon):%Y-%m-%d %H:%M} is already taken"
    taken = SlotTaken(what)
    taken.__cause__ = exc
    return taken


class _DuplicateSourceMessage(Exception):
    """Another transaction committed a booking for the same inbound message first."""


def _item_columns(salon: Salon, items: Sequence[PlannedItem]) -> dict[str, list[Any]]:
    processing = [item.processing(salon) for item in items]
    return {
        "positions": list(range(len(items))),
        "services": [item.service.id for item in items],
        "masters": [item.master.id for item in items],
        "starts": [item.starts_at(salon) for item in items],
        "ends": [item.ends_at(salon) for item in items],
        "blocked": [item.blocked_until(salon) for item in items],
        "processing_from": [p[0] if p else None for p in processing],
        "processing_until": [p[1] if p else None for p in processing],
        "prices": [item.service.price for item in items],
        "resources": [item.service.resource_id for item in items],
    }


_ITEMS_FROM_ARRAYS = """
unnest(%(positions)s::int2[], %(services)s::bigint[], %(masters)s::bigint[],
       %(starts)s::timestamptz[], %(ends)s::timestamptz[], %(blocked)s::timestamptz[],
       %(processing_from)s::timestamptz[], %(processing_until)s::timestamptz[],
       %(prices)s::numeric[], %(resources)s::bigint[])
    AS v(position, service_id, master_id, starts_at, ends_at, blocked_until,
         processing_from, processing_until, price, resource_id)
"""


def _visit_values(salon: Salon, items: Sequence[PlannedItem]) -> dict[str, Any]:
    lead = items[0]
    return {
        "master": lead.master.id,
        "service": lead.service.id,
        "starts_at": lead.starts_at(salon),
        "ends_at": items[-1].ends_at(salon),
        "blocked_until": max(item.blocked_until(salon) for item in items),
        "price": sum((item.service.price for item in items), Decimal(0)),
    }


def visit_booking(
    salon: Salon, booking_id: int, code: str, phone: str, items: Sequence[PlannedItem]
) -> Booking:
    lead = items[0]
    return Booking(
        id=booking_id,
        code=code,
        salon_id=salon.id,
        status=LIVE,
        service_code=lead.service.code,
        service_names=dict(lead.service.names),
        master_code=lead.master.code,
        master_name=lead.master.name,
        phone=phone,
        starts_at=lead.starts_at(salon),
        ends_at=items[-1].ends_at(salon),
        price=sum((item.service.price for item in items), Decimal(0)),
        items=tuple(
            BookingItem(
                service_code=item.service.code,
                service_names=dict(item.service.names),
                master_code=item.master.code,
                master_name=item.master.name,
                starts_at=item.starts_at(salon),
                ends_at=item.ends_at(salon),
                price=item.service.price,
            )
            for item in items
        ),
    )


def _insert(
    conn: Connection,
    salon: Salon,
    items: Sequence[PlannedItem],
    *,
    client_id: int,
    phone: str,
    source: str,
    source_message_id: str | None,
) -> Booking:
    """The visit and its items in one statement (so the one-item trigger adds nothing)."""
    for _ in range(CODE_ATTEMPTS):
        code = new_booking_code()
        try:
            with _masters_time_turn(conn, items):
                row = conn.execute(
                    """
                    WITH visit AS (
                        INSERT INTO bookings (code, salon_id, master_id, service_id,
                                              client_id, starts_at, ends_at, blocked_until,
                                              price, source, source_message_id)
                        VALUES (%(code)s, %(salon)s, %(master)s, %(service)s, %(client)s,
                                %(starts_at)s, %(ends_at)s, %(blocked_until)s, %(price)s,
                                %(source)s, %(source_message_id)s)
                        RETURNING id)
                    INSERT INTO booking_items (booking_id, position, service_id, master_id,
                                               starts_at, ends_at, blocked_until,
                                               processing_from, processing_until, price,
                                               resource_id)
                    SELECT visit.id, v.position, v.service_id, v.master_id, v.starts_at,
                           v.ends_at, v.blocked_until, v.processing_from, v.processing_until,
                           v.price, v.resource_id
                      FROM visit, """
                    + _ITEMS_FROM_ARRAYS
                    + " RETURNING booking_id",
                    {
                        "code": code,
                        "salon": salon.id,
                        "client": client_id,
                        "source": source,
                        "source_message_id": source_message_id,
                        **_visit_values(salon, items),
                        **_item_columns(salon, items),
                    },
                ).fetchone()
        except _COMPETING_WRITE_ERRORS as exc:
            if client_overlap(exc):
                raise ClientBusy("the customer already has a booking at that time") from exc
            if _refused_write(exc):
                raise _taken(salon, items, exc) from exc
            raise
        except pg_errors.UniqueViolation as exc:
            if exc.diag.constraint_name == CODE_CONSTRAINT:
                continue
            if exc.diag.constraint_name == SOURCE_MESSAGE_CONSTRAINT:
                raise _DuplicateSourceMessage from exc
            raise
        assert row is not None
        return visit_booking(salon, row["booking_id"], code, phone, items)
    raise RuntimeError(f"no unused booking code after {CODE_ATTEMPTS} attempts")


def _attempts(allowed: Sequence[Sequence[Master]]) -> int:
    """How many plans a write tries: each refused one rules its masters out, so at most
    one per master an item could have, and one more."""
    return max(len(masters) for masters in allowed) + 1


def create_booking(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    service_code: str | Sequence[str],
    starts_at: dt.datetime,
    master_code: str | None = None,
    client_name: str | None = None,
    source: str = "whatsapp",
    source_message_id: str | None = None,
    now: dt.datetime | None = None,
) -> Booking:
    """Book a visit at `starts_at`: one service, or several back to back (each item with
    the named master, or with the first master in salon order free then). All items or
    none. The same `source_message_id` twice returns the first booking.

    Refused with `BookingLimitReached` when the customer already holds the salon's limit
    of live bookings, and with `ClientBusy` when the visit overlaps one of them."""
    phone = normalize_phone(phone)
    services = visits.visit_services(salon, service_code)
    choices = visits.masters_per_item(salon, services, master_code)
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
        mine = client_calendar(conn, client_id, starts_at, _visit_end(services, starts_at), current)
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
        allowed = allowed_per_item(salon, services, choices, starts_at, current)
        avoid = [frozenset[int]() for _ in services]
        taken: SlotTaken | None = None
        for _ in range(_attempts(allowed)):
            try:
                planned = _plan(conn, salon, services, allowed, starts_at, avoid)
            except SlotTaken as exc:
                raise taken or exc from None
            try:
                booking = _insert(
                    conn,
                    salon,
                    planned,
                    client_id=client_id,
                    phone=phone,
                    source=source,
                    source_message_id=source_message_id,
                )
                _mark_needs_confirmation(conn, salon, client_id, booking.id)
                return booking
            except (SlotTaken, _DuplicateSourceMessage) as exc:
                # A redelivered message racing its twin: the twin's booking is the answer.
                if source_message_id is not None:
                    existing = _by_source_message(conn, salon, source_message_id)
                    if existing is not None:
                        return existing
                if isinstance(exc, _DuplicateSourceMessage | ClientBusy):
                    raise  # another master would not help
                taken = exc
                avoid = [a | {item.master.id} for a, item in zip(avoid, planned, strict=True)]
        assert taken is not None
        raise taken


def _mark_needs_confirmation(
    conn: Connection, salon: Salon, client_id: int, booking_id: int
) -> None:
    """Mark the booking as needing the customer's confirmation when the client has the
    salon's `confirm_required_after_no_shows` no-shows or more (counted from bookings)."""
    limit = salon.outbound.confirm_required_after_no_shows
    if limit is None:
        return
    conn.execute(
        """
        UPDATE bookings SET needs_confirmation = true
         WHERE id = %s
           AND (SELECT count(*) FROM bookings
                 WHERE client_id = %s AND status = 'no_show') >= %s
        """,
        (booking_id, client_id, limit),
    )


def _refuse_started(row: dict[str, Any], now: dt.datetime) -> None:
    if row["starts_at"] <= now:
        raise InvalidInput(f"booking {row['code']} has already started", field="code")


def cancel_booking(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    code: str,
    now: dt.datetime | None = None,
    by_customer: bool = False,
) -> Booking:
    """Cancel the customer's live, not yet started visit, every item of it; its time is
    free again (the items follow the visit's status). `by_customer`: the customer asks,
    so the salon's `cancel_notice_minutes` applies (`ChangeTooLate`); staff may always."""
    phone = normalize_phone(phone)
    current = resolve_now(salon, now)
    with conn.transaction():
        row = _customer_booking(conn, salon, phone, code, live=True, lock=True)
        _refuse_started(row, current)
        if by_customer:
            refuse_late_change(salon, "cancel", row["code"], row["starts_at"], current)
        conn.execute(
            """
            UPDATE bookings SET status = 'cancelled', cancelled_at = %s, updated_at = now()
             WHERE id = %s
            """,
            (current, row["id"]),
        )
    return dataclasses.replace(_from_row(salon, row), status="cancelled")


def _visit_choices(
    salon: Salon, services: Sequence[Service], current: Sequence[int], master_code: str | None
) -> list[list[Master]]:
    """Who may take each item of a moved visit: the named master for every item, else
    each item's current master first, then the others who do its service."""
    if master_code is not None:
        return visits.masters_per_item(salon, services, master_code)
    choices: list[list[Master]] = []
    for service, keep in zip(services, current, strict=True):
        everyone = salon.masters_for(service)
        choices.append(
            [m for m in everyone if m.id == keep] + [m for m in everyone if m.id != keep]
        )
    return choices


def move_booking(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    code: str,
    starts_at: dt.datetime,
    master_code: str | None = None,
    now: dt.datetime | None = None,
    by_customer: bool = False,
) -> Booking:
    """Move the customer's live visit to `starts_at`, every item with it, checked like a
    new booking. `by_customer`: the salon's `move_notice_minutes` applies
    (`ChangeTooLate`); staff may always.

    `master_code=None` keeps each item's master when free then, else the first free
    master who does its service; a named master takes every item. The rows are updated in
    place, so the new time may overlap the old one; when the new time is refused the visit
    stays exactly as it was. A time overlapping the customer's other booking is refused
    with `ClientBusy`."""
    phone = normalize_phone(phone)
    require_aware(starts_at, "starts_at")
    current = resolve_now(salon, now)
    with conn.transaction():
        # The client's row too: this customer's creates and moves are decided in turn.
        row = _customer_booking(conn, salon, phone, code, live=True, lock=True, lock_client=True)
        _refuse_started(row, current)
        if by_customer:
            refuse_late_change(salon, "move", row["code"], row["starts_at"], current)
        held = row["items"] or [{"service_id": row["service_id"], "master_id": row["master_id"]}]
        services = [salon.service_by_id(item["service_id"]) for item in held]
        choices = _visit_choices(salon, services, [i["master_id"] for i in held], master_code)
        mine = client_calendar(
            conn,
            row["client_id"],
            starts_at,
            _visit_end(services, starts_at),
            current,
            exclude_booking=row["id"],
        )
        if mine.overlapping is not None:
            raise client_busy(salon, mine.overlapping)
        allowed = allowed_per_item(salon, services, choices, starts_at, current)
        avoid = [frozenset[int]() for _ in services]
        taken: SlotTaken | None = None
        for _ in range(_attempts(allowed)):
            try:
                planned = _plan(
                    conn, salon, services, allowed, starts_at, avoid, exclude_booking=row["id"]
                )
            except SlotTaken as exc:
                raise taken or exc from None
            try:
                _update_visit(conn, salon, row["id"], planned)
            except _COMPETING_WRITE_ERRORS as exc:
                if client_overlap(exc):
                    raise ClientBusy("the customer already has a booking at that time") from exc
                if not _refused_write(exc):
                    raise
                taken = _taken(salon, planned, exc)
                avoid = [a | {item.master.id} for a, item in zip(avoid, planned, strict=True)]
                continue
            moved = visit_booking(salon, row["id"], row["code"], row["phone"], planned)
            return dataclasses.replace(moved, price=row["price"])
        assert taken is not None
        raise taken


def confirm_booking(
    conn: Connection, salon: Salon, *, phone: str, code: str, now: dt.datetime | None = None
) -> Booking:
    """The customer confirms their live, not yet started booking (a reminder's button).
    Confirming again keeps the first confirmation's time."""
    phone = normalize_phone(phone)
    current = resolve_now(salon, now)
    with conn.transaction():
        row = _customer_booking(conn, salon, phone, code, live=True, lock=True)
        _refuse_started(row, current)
        confirmed = conn.execute(
            "UPDATE bookings SET customer_confirmed_at = coalesce(customer_confirmed_at, %s), "
            "updated_at = now() WHERE id = %s RETURNING customer_confirmed_at",
            (current, row["id"]),
        ).fetchone()
    assert confirmed is not None
    return dataclasses.replace(
        _from_row(salon, row), customer_confirmed_at=confirmed["customer_confirmed_at"]
    )


RATEABLE = ("confirmed", "arrived", "completed")


def rate_booking(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    code: str,
    rating: int,
    now: dt.datetime | None = None,
) -> Booking:
    """The customer's 1-5 rating of their visit (started, not cancelled nor a no-show);
    rating again replaces it."""
    if not 1 <= rating <= 5:
        raise InvalidInput("must be from 1 to 5", field="rating")
    phone = normalize_phone(phone)
    current = resolve_now(salon, now)
    with conn.transaction():
        row = _customer_booking(conn, salon, phone, code, live=False, lock=True)
        if row["status"] not in RATEABLE or row["starts_at"] > current:
            raise InvalidInput(f"booking {row['code']} cannot be rated", field="code")
        conn.execute(
            "UPDATE bookings SET rating = %s, rated_at = %s, updated_at = now() WHERE id = %s",
            (rating, current, row["id"]),
        )
    return _from_row(salon, row)


def _update_visit(
    conn: Connection, salon: Salon, booking_id: int, items: Sequence[PlannedItem]
) -> None:
    """Every item to its planned time and master, then the visit's own span: items of one
    visit never conflict with each other, so the order of the rows does not matter."""
    with _masters_time_turn(conn, items):
        conn.execute(
            """
            UPDATE booking_items i
               SET master_id = v.master_id, starts_at = v.starts_at, ends_at = v.ends_at,
                   blocked_until = v.blocked_until, processing_from = v.processing_from,
                   processing_until = v.processing_until, resource_id = v.resource_id
              FROM """
            + _ITEMS_FROM_ARRAYS
            + " WHERE i.booking_id = %(booking)s AND i.position = v.position",
            {"booking": booking_id, **_item_columns(salon, items)},
        )
        visit = _visit_values(salon, items)
        conn.execute(
            """
            UPDATE bookings
               SET master_id = %(master)s, starts_at = %(starts_at)s, ends_at = %(ends_at)s,
                   blocked_until = %(blocked_until)s, customer_confirmed_at = NULL,
                   updated_at = now()
             WHERE id = %(booking)s
            """,
            {"booking": booking_id, **visit},
        )


def find_booking(conn: Connection, salon: Salon, *, phone: str, code: str) -> Booking:
    """The customer's booking with this code, whatever its status."""
    phone = normalize_phone(phone)
    with conn.transaction():
        return _from_row(salon, _customer_booking(conn, salon, phone, code, live=False, lock=False))


def last_visit(
    conn: Connection, salon: Salon, *, phone: str, now: dt.datetime | None = None
) -> Booking | None:
    """The customer's latest visit that has started (not cancelled, not a no-show): what
    "same as last time" repeats. One query, on the client's (client_id, starts_at) index."""
    phone = normalize_phone(phone)
    sql = (
        _SELECT
        + " WHERE b.salon_id = %s AND c.phone = %s AND b.starts_at <= %s"
        + " AND b.status IN ('confirmed', 'completed') ORDER BY b.starts_at DESC, b.id DESC LIMIT 1"
    )
    # One read, no savepoint around it: one round trip.
    row = conn.execute(sql, (salon.id, phone, resolve_now(salon, now))).fetchone()
    return None if row is None else _from_row(salon, row)


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
