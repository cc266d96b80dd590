"""Availability against real PostgreSQL: bookings in the database shape the slots, DST
nights, the earliest-slot search, and a constant number of SQL round trips."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks.harness import count_round_trips
from salonbot.booking.availability import earliest_slots, free_slots
from salonbot.booking.store import cancel_booking, create_booking
from salonbot.db.connection import Connection
from salonbot.errors import InvalidInput, UnknownMaster, UnknownService
from tests.integration.salon_builder import (
    FALL_BACK,
    MONDAY,
    NOW,
    SPRING_FORWARD,
    TUESDAY,
    at,
    berlin_salon,
    berlin_salon_data,
    create_salon,
)

PHONE = "+4915112345678"


def hhmm(slots: list) -> list[str]:
    return [s.starts_at.strftime("%H:%M") for s in slots]


def test_one_master_day_follows_hours_break_and_bookings(db: Connection) -> None:
    # Given anna (10-14, 15-19) has a manicure booked at 11:15 (blocked until 12:25)
    salon = berlin_salon(db)
    create_booking(
        db,
        salon,
        phone=PHONE,
        service_code="manicure",
        starts_at=at(MONDAY, 11, 15),
        master_code="anna",
        now=NOW,
    )

    # When her free manicure slots for the day are asked for
    slots = free_slots(db, salon, "manicure", MONDAY, "anna", now=NOW)

    # Then they skip the booking with its buffer and the lunch break: 10:00 fits (it
    # blocks until 11:10), 10:15 would run into the booking, 12:30 is the first after it
    starts = hhmm(slots)
    assert starts[:3] == ["10:00", "12:30", "12:45"]
    assert "13:00" in starts and "13:15" not in starts
    assert "15:00" in starts and starts[-1] == "18:00"
    assert {s.master_code for s in slots} == {"anna"}


def test_any_master_falls_back_to_the_next_master_in_salon_order(db: Connection) -> None:
    salon = berlin_salon(db)
    create_booking(
        db,
        salon,
        phone=PHONE,
        service_code="manicure",
        starts_at=at(MONDAY, 12),
        master_code="anna",
        now=NOW,
    )

    slots = free_slots(db, salon, "manicure", MONDAY, now=NOW)

    by_time = {s.starts_at.strftime("%H:%M"): s.master_code for s in slots}
    assert by_time["10:00"] == "anna"
    assert by_time["12:00"] == "bob"  # anna is busy, bob starts at 12:00
    assert by_time["18:00"] == "anna"
    assert len(by_time) == len(slots)


def test_cancelled_bookings_do_not_block(db: Connection) -> None:
    salon = berlin_salon(db)
    booking = create_booking(
        db,
        salon,
        phone=PHONE,
        service_code="manicure",
        starts_at=at(MONDAY, 10),
        master_code="anna",
        now=NOW,
    )
    assert "10:00" not in hhmm(free_slots(db, salon, "manicure", MONDAY, "anna", now=NOW))

    cancel_booking(db, salon, phone=PHONE, code=booking.code, now=NOW)

    assert "10:00" in hhmm(free_slots(db, salon, "manicure", MONDAY, "anna", now=NOW))


def test_days_off_past_and_horizon(db: Connection) -> None:
    salon = berlin_salon(db)
    wednesday_off = dt.date(2026, 3, 4)

    assert free_slots(db, salon, "manicure", wednesday_off, "anna", now=NOW) == []
    assert {s.master_code for s in free_slots(db, salon, "manicure", wednesday_off, now=NOW)} == {
        "bob"
    }
    assert free_slots(db, salon, "manicure", MONDAY - dt.timedelta(days=1), now=NOW) == []
    assert free_slots(db, salon, "manicure", MONDAY + dt.timedelta(days=29), now=NOW)
    assert free_slots(db, salon, "manicure", MONDAY + dt.timedelta(days=30), now=NOW) == []


def test_min_notice_applies_today(db: Connection) -> None:
    salon = berlin_salon(db, min_notice_minutes=120)

    slots = free_slots(db, salon, "manicure", MONDAY, "anna", now=at(MONDAY, 10, 5))

    assert slots[0].starts_at == at(MONDAY, 12, 15)


def test_dst_nights_in_the_database(db: Connection) -> None:
    # Given a salon whose masters work 01:00-04:00 on Sunday nights, hourly slots
    salon = berlin_salon(db, slot_step_minutes=60, min_notice_minutes=0, booking_horizon_days=365)
    early = at(dt.date(2026, 3, 1), 0)

    # Then the spring night has no 02:00 and the autumn night has two
    spring = free_slots(db, salon, "haircut", SPRING_FORWARD, now=early)
    assert [s.starts_at.isoformat() for s in spring] == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]
    autumn = free_slots(db, salon, "haircut", FALL_BACK, now=early)
    assert [s.starts_at.isoformat() for s in autumn] == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]

    # When the second 02:00 (winter time) is booked
    booking = create_booking(
        db,
        salon,
        phone=PHONE,
        service_code="haircut",
        starts_at=at(FALL_BACK, 2, fold=1),
        now=early,
    )

    # Then the database holds that instant, and the first 02:00 is still free
    row = db.execute("SELECT starts_at FROM bookings WHERE id = %s", (booking.id,)).fetchone()
    assert row is not None
    assert row["starts_at"] == dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC)
    after = free_slots(db, salon, "haircut", FALL_BACK, "bob", now=early)
    assert [s.starts_at.isoformat() for s in after] == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_earliest_slots_skip_full_days(db: Connection) -> None:
    # Given bob (the only haircutter, 12:00-18:00) is fully booked on Monday
    salon = berlin_salon(db)
    start = at(MONDAY, 12)
    customer = 0  # one customer each: a customer holds at most three live bookings
    while start + dt.timedelta(minutes=45) <= at(MONDAY, 18):  # no DST change that day
        customer += 1
        create_booking(
            db, salon, phone=f"+49151000000{customer:02d}", service_code="haircut",
            starts_at=start, now=NOW,
        )  # fmt: skip
        start += dt.timedelta(minutes=45)
    assert free_slots(db, salon, "haircut", MONDAY, now=NOW) == []

    # When the first free haircut slots are asked for
    slots = earliest_slots(db, salon, "haircut", limit=3, now=NOW)

    # Then they are Tuesday's first three
    assert [s.starts_at for s in slots] == [
        at(TUESDAY, 12),
        at(TUESDAY, 12, 15),
        at(TUESDAY, 12, 30),
    ]


def test_earliest_slots_respect_days_and_limit(db: Connection) -> None:
    salon = berlin_salon(db)

    today_only = earliest_slots(db, salon, "manicure", "anna", limit=100, days=1, now=NOW)
    many = earliest_slots(db, salon, "manicure", "anna", limit=40, now=NOW)

    assert {s.starts_at.date() for s in today_only} == {MONDAY}
    assert len(today_only) == 26
    assert len(many) == 40
    assert many[:26] == today_only
    assert many[26].starts_at.date() == TUESDAY
    with pytest.raises(InvalidInput):
        earliest_slots(db, salon, "manicure", limit=0, now=NOW)


def test_unknown_service_and_master_and_a_master_without_the_service(db: Connection) -> None:
    salon = berlin_salon(db)

    with pytest.raises(UnknownService):
        free_slots(db, salon, "massage", MONDAY, now=NOW)
    with pytest.raises(UnknownMaster):
        free_slots(db, salon, "manicure", MONDAY, "zoe", now=NOW)
    with pytest.raises(InvalidInput, match="master"):
        earliest_slots(db, salon, "haircut", "anna", now=NOW)


def test_round_trips_do_not_grow_with_masters(db: Connection) -> None:
    # Given two salons of the same shape, one with 2 manicurists and one with 12
    small = berlin_salon(db)
    data = berlin_salon_data(id="3f0c1a52-0000-4000-8000-0000000000c1", name="Big")
    extra = [{**data["masters"][1], "code": f"m{i}", "name": f"Master {i}"} for i in range(10)]
    data["masters"] = data["masters"] + extra
    big = create_salon(db, data)
    for salon in (small, big):
        create_booking(
            db, salon, phone=PHONE, service_code="manicure", starts_at=at(MONDAY, 12), now=NOW
        )
    db.commit()

    # When a day, the first free slots and all slots of 30 days are asked for, any master
    counts = {}
    for salon in (small, big):
        # Inside an open transaction, as in the processor (a fresh one would add a BEGIN).
        db.execute("SELECT 1")
        with count_round_trips(db) as day:
            free_slots(db, salon, "manicure", MONDAY, now=NOW)
        with count_round_trips(db) as first:
            earliest_slots(db, salon, "manicure", limit=5, days=30, now=NOW)
        with count_round_trips(db) as month:
            earliest_slots(db, salon, "manicure", limit=500, days=30, now=NOW)
        counts[len(salon.masters)] = (day.count, first.count, month.count)
        db.rollback()

    # Then a day is one query; the earliest search one query when the first days have
    # enough slots and two otherwise, whatever the number of masters
    assert counts == {2: (1, 1, 2), 12: (1, 1, 2)}
