"""The concurrency proof: many customers on their own connections race for the same or
overlapping times; the database's exclusion constraint lets exactly one win per master."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any

import pytest

from salonbot.booking.catalog import load_salon
from salonbot.booking.store import PENDING_WAIT_MS, Booking, create_booking, move_booking
from salonbot.db.connection import Connection, connect
from salonbot.errors import SlotTaken
from tests.integration.racing import ATTEMPTS, race
from tests.integration.salon_builder import BERLIN_SALON_ID, MONDAY, NOW, at, berlin_salon


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


def test_a_pending_booking_does_not_hold_the_masters_day_for_other_times(
    db: Connection, database_url: str
) -> None:
    # Given customer A booked anna at 10:00 in a turn that has not committed yet (the
    # assistant may still be wording its answer with the model)
    berlin_salon(db)
    db.commit()
    pending, other = connect(database_url), connect(database_url)
    try:
        salon = load_salon(pending, BERLIN_SALON_ID)
        with pending.transaction():
            create_booking(
                pending, salon, phone=phone(1), service_code="manicure",
                starts_at=at(MONDAY, 10), master_code="anna", now=NOW,
            )  # fmt: skip

            # When B books anna the same day at another time, B does not wait for A
            started = time.monotonic()
            later = create_booking(
                other, load_salon(other, BERLIN_SALON_ID), phone=phone(2),
                service_code="manicure", starts_at=at(MONDAY, 15), master_code="anna",
                now=NOW,
            )  # fmt: skip
            other.commit()
            assert time.monotonic() - started < 1.0
            assert later.master_code == "anna"

            # When C asks for A's pending time, C is told it is taken after a short wait,
            # not failed by the statement timeout
            started = time.monotonic()
            with pytest.raises(SlotTaken):
                create_booking(
                    other, load_salon(other, BERLIN_SALON_ID), phone=phone(3),
                    service_code="manicure", starts_at=at(MONDAY, 10, 30),
                    master_code="anna", now=NOW,
                )  # fmt: skip
            waited = time.monotonic() - started
            assert PENDING_WAIT_MS / 1000 - 0.2 < waited < PENDING_WAIT_MS / 1000 + 2
            # and C's connection is usable afterwards: nothing of C's is left behind
            other.rollback()
            assert other.execute(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = "
                "'advisory' AND pid = pg_backend_pid()"
            ).fetchone() == {"n": 0}
        pending.commit()
    finally:
        pending.close()
        other.close()
    # Then A's and B's bookings stand
    assert sorted(b["starts_at"] for b in live_bookings(db)) == [
        at(MONDAY, 10),
        at(MONDAY, 15),
    ]
