"""The concurrency proof: many customers on their own connections race for the same or
overlapping times; the database's exclusion constraint lets exactly one win per master."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from salonbot.booking.catalog import Salon, load_salon
from salonbot.booking.store import Booking, create_booking, move_booking
from salonbot.db.connection import Connection, connect
from salonbot.errors import SlotTaken
from tests.integration.salon_builder import BERLIN_SALON_ID, MONDAY, NOW, at, berlin_salon

ATTEMPTS = 24


def race(
    database_url: str,
    attempt: Callable[[Connection, Salon, int], Booking],
    attempts: int = ATTEMPTS,
) -> list[Any]:
    """Run `attempt` from `attempts` threads, each with its own connection, released at
    once. Returns each thread's Booking or exception."""
    connections = [connect(database_url) for _ in range(attempts)]
    salons = [load_salon(conn, BERLIN_SALON_ID) for conn in connections]
    for conn in connections:
        conn.commit()
    start = threading.Barrier(attempts)
    results: list[Any] = [None] * attempts

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = attempt(connections[index], salons[index], index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in connections:
        conn.close()
    return results


def phone(index: int) -> str:
    return f"+49151{index:08d}"


def live_bookings(db: Connection) -> list[dict[str, Any]]:
    db.rollback()
    return db.execute(
        """SELECT b.code, m.code AS master, b.starts_at FROM bookings b
           JOIN masters m ON m.id = b.master_id WHERE b.status = 'confirmed'"""
    ).fetchall()


def outcome(results: list[Any]) -> Counter[str]:
    return Counter(type(r).__name__ for r in results)


def test_same_and_overlapping_times_with_one_master_leave_exactly_one_booking(
    db: Connection, database_url: str
) -> None:
    # Given anna is free all Monday morning
    berlin_salon(db)
    db.commit()
    # Starts 10:00..10:45: every pair overlaps (each manicure blocks 70 minutes)
    offsets = [0, 15, 30, 45]

    # When 24 customers try to book her at once
    results = race(
        database_url,
        lambda conn, salon, i: create_booking(
            conn,
            salon,
            phone=phone(i),
            service_code="manicure",
            master_code="anna",
            starts_at=at(MONDAY, 10, offsets[i % len(offsets)]),
            now=NOW,
        ),
    )

    # Then exactly one booking exists and every other attempt got SlotTaken
    assert outcome(results) == Counter({"Booking": 1, "SlotTaken": ATTEMPTS - 1})
    winner = next(r for r in results if isinstance(r, Booking))
    assert [row["code"] for row in live_bookings(db)] == [winner.code]


def test_fifty_customers_for_five_slots_leave_exactly_five_bookings(
    db: Connection, database_url: str
) -> None:
    # Given five separate times of anna's Monday (a manicure blocks 70 minutes)
    berlin_salon(db)
    db.commit()
    slots = [
        at(MONDAY, 10),
        at(MONDAY, 11, 15),
        at(MONDAY, 12, 30),
        at(MONDAY, 15),
        at(MONDAY, 16, 15),
    ]

    # When 50 customers race for them at once, ten for each
    results = race(
        database_url,
        lambda conn, salon, i: create_booking(
            conn,
            salon,
            phone=phone(i),
            service_code="manicure",
            master_code="anna",
            starts_at=slots[i % len(slots)],
            now=NOW,
        ),
        attempts=50,
    )

    # Then exactly five bookings exist, one per slot, and the other 45 got SlotTaken
    assert outcome(results) == Counter({"Booking": 5, "SlotTaken": 45})
    assert sorted(row["starts_at"] for row in live_bookings(db)) == slots


def test_any_master_race_fills_each_master_once(db: Connection, database_url: str) -> None:
    # Given anna and bob both do manicures at 12:00
    berlin_salon(db)
    db.commit()

    # When 24 customers ask for 12:00 with any master at once
    results = race(
        database_url,
        lambda conn, salon, i: create_booking(
            conn, salon, phone=phone(i), service_code="manicure", starts_at=at(MONDAY, 12), now=NOW
        ),
    )

    # Then each master got exactly one of them and the rest were told the slot is taken
    assert outcome(results) == Counter({"Booking": 2, "SlotTaken": ATTEMPTS - 2})
    assert sorted(row["master"] for row in live_bookings(db)) == ["anna", "bob"]


def test_the_same_message_delivered_concurrently_books_once(
    db: Connection, database_url: str
) -> None:
    berlin_salon(db)
    db.commit()

    results = race(
        database_url,
        lambda conn, salon, i: create_booking(
            conn,
            salon,
            phone=phone(1),
            service_code="manicure",
            master_code="anna",
            starts_at=at(MONDAY, 11),
            source_message_id="wamid.SAME",
            now=NOW,
        ),
    )

    assert outcome(results) == Counter({"Booking": ATTEMPTS})
    assert len({r.id for r in results}) == 1
    assert len(live_bookings(db)) == 1


def test_moves_racing_onto_one_time_leave_one_winner_and_the_rest_unchanged(
    db: Connection, database_url: str
) -> None:
    # Given 24 customers with bookings spread over the week, all with anna at 15:00
    salon = berlin_salon(db, booking_horizon_days=60)
    # (anna's Sundays are night shifts and 4 March is her day off)
    days = [MONDAY + dt.timedelta(days=d) for d in range(1, 40) if d % 7 != 6 and d != 2]
    originals = [
        create_booking(
            db,
            salon,
            phone=phone(i),
            service_code="manicure",
            master_code="anna",
            starts_at=at(days[i], 15),
            now=NOW,
        )
        for i in range(ATTEMPTS)
    ]
    db.commit()

    # When they all try to move to Monday 10:00 at once
    results = race(
        database_url,
        lambda conn, salon, i: move_booking(
            conn,
            salon,
            phone=phone(i),
            code=originals[i].code,
            starts_at=at(MONDAY, 10),
            master_code="anna",
            now=NOW,
        ),
    )

    # Then one moved, the others got SlotTaken and kept their original time
    assert outcome(results) == Counter({"Booking": 1, "SlotTaken": ATTEMPTS - 1})
    times = sorted(row["starts_at"] for row in live_bookings(db))
    winner = next(i for i, r in enumerate(results) if isinstance(r, Booking))
    expected = sorted(
        [at(MONDAY, 10)] + [o.starts_at for i, o in enumerate(originals) if i != winner]
    )
    assert times == expected
    assert all(isinstance(r, Booking | SlotTaken) for r in results)
