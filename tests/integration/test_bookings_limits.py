"""One customer cannot fill the calendar: the salon's limit of live bookings per customer,
checked inside the booking transaction, and the database constraint that one customer's
confirmed bookings never overlap (`bookings_client_no_overlap`), for create and move, with
customers racing on their own connections."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from psycopg import errors as pg_errors

from salonbot.booking import store
from salonbot.booking.client_calendar import ClientCalendar
from salonbot.booking.store import (
    Booking,
    cancel_booking,
    create_booking,
    list_bookings,
    move_booking,
)
from salonbot.db.connection import Connection
from salonbot.errors import BookingLimitReached, ClientBusy, SlotTaken
from tests.integration.racing import race
from tests.integration.salon_builder import FALL_BACK, MONDAY, NOW, TUESDAY, at, berlin_salon

ALICE = "+4915100000001"
BRUNO = "+4915100000002"
# Days anna works a full day within the horizon (not Sunday, not her day off on 4 March).
WORKDAYS = [
    day
    for day in (MONDAY + dt.timedelta(days=d) for d in range(28))
    if day.isoweekday() != 7 and day != dt.date(2026, 3, 4)
]


def book(db: Connection, salon: Any, when: dt.datetime, **kwargs: Any) -> Booking:
    options: dict[str, Any] = {"phone": ALICE, "service_code": "manicure", "now": NOW}
    options.update(kwargs)
    return create_booking(db, salon, starts_at=when, **options)


def live_rows(db: Connection) -> list[dict[str, Any]]:
    return db.execute(
        """SELECT b.code, c.phone, m.code AS master, b.starts_at FROM bookings b
           JOIN clients c ON c.id = b.client_id JOIN masters m ON m.id = b.master_id
           WHERE b.status = 'confirmed' ORDER BY b.starts_at"""
    ).fetchall()


def outcome(results: list[Any]) -> Counter[str]:
    return Counter(type(r).__name__ for r in results)


# -- the limit of live bookings -------------------------------------------------------------


def test_a_customer_at_the_limit_cannot_book_again(db: Connection) -> None:
    # Given Alice holds three upcoming bookings, the default limit
    salon = berlin_salon(db)
    assert salon.max_live_bookings_per_client == 3
    for day in WORKDAYS[:3]:
        book(db, salon, at(day, 10))

    # When she books a fourth
    with pytest.raises(BookingLimitReached) as refused:
        book(db, salon, at(WORKDAYS[3], 10))

    # Then it is refused, naming the limit, and nothing was written
    assert refused.value.limit == 3
    assert "3 upcoming booking(s)" in str(refused.value) and "allows 3" in str(refused.value)
    assert len(live_rows(db)) == 3
    # while another customer books that time freely
    assert book(db, salon, at(WORKDAYS[3], 10), phone=BRUNO).master_code == "anna"


@pytest.mark.parametrize("limit", [1, 5])
def test_the_limit_is_the_salons_setting(db: Connection, limit: int) -> None:
    # Given a salon that allows `limit` live bookings per customer
    salon = berlin_salon(db, max_live_bookings_per_client=limit)
    assert salon.max_live_bookings_per_client == limit

    # When Alice books one more than that, a day apart
    made = [book(db, salon, at(day, 10)) for day in WORKDAYS[:limit]]
    with pytest.raises(BookingLimitReached):
        book(db, salon, at(WORKDAYS[limit], 10))

    # Then exactly `limit` stand
    assert [r["code"] for r in live_rows(db)] == [b.code for b in made]


def test_cancelled_and_finished_bookings_do_not_count(db: Connection) -> None:
    # Given Alice reached the limit, one booking on Monday morning
    salon = berlin_salon(db)
    monday = book(db, salon, at(MONDAY, 10))
    tuesday = book(db, salon, at(TUESDAY, 10))
    book(db, salon, at(WORKDAYS[3], 10))
    with pytest.raises(BookingLimitReached):
        book(db, salon, at(WORKDAYS[4], 10))

    # When she cancels one, she may book again
    cancel_booking(db, salon, phone=ALICE, code=tuesday.code, now=NOW)
    book(db, salon, at(WORKDAYS[4], 10))
    with pytest.raises(BookingLimitReached):
        book(db, salon, at(WORKDAYS[5], 10))

    # and once Monday's booking is over (at 11:00) it no longer counts either
    assert monday.ends_at == at(MONDAY, 11)
    with pytest.raises(BookingLimitReached):
        book(db, salon, at(WORKDAYS[5], 10), now=at(MONDAY, 10, 59))
    later = book(db, salon, at(WORKDAYS[5], 10), now=at(MONDAY, 11))
    upcoming = list_bookings(db, salon, phone=ALICE, now=at(MONDAY, 11))
    assert len(upcoming) == 3 and upcoming[-1].code == later.code


def test_a_message_redelivered_at_the_limit_returns_its_booking(db: Connection) -> None:
    # Given Alice's third booking was made by message m3
    salon = berlin_salon(db)
    book(db, salon, at(MONDAY, 10))
    book(db, salon, at(TUESDAY, 10))
    third = book(db, salon, at(WORKDAYS[3], 10), source_message_id="wamid.m3")

    # When m3 is processed again, she is at the limit
    again = book(db, salon, at(WORKDAYS[3], 10), source_message_id="wamid.m3")

    # Then it is the same booking, not a refusal
    assert again.code == third.code


def test_22_parallel_creates_for_one_customer_leave_the_limit(
    db: Connection, database_url: str
) -> None:
    # Given 22 free, separate times (a day apart), and no booking of Alice's yet
    berlin_salon(db)
    db.commit()
    times = [at(day, 12) for day in WORKDAYS[:22]]

    # When 22 requests of Alice's book them at once, each on its own connection
    results = race(
        database_url,
        lambda conn, salon, i: create_booking(
            conn, salon, phone=ALICE, service_code="manicure", starts_at=times[i], now=NOW
        ),
        attempts=22,
    )

    # Then three were booked and the others refused at the limit
    assert outcome(results) == Counter({"Booking": 3, "BookingLimitReached": 19})
    rows = live_rows(db)
    assert len(rows) == 3 and {r["phone"] for r in rows} == {ALICE}


def test_identical_parallel_requests_with_two_masters_free_book_once(
    db: Connection, database_url: str
) -> None:
    # Given anna and bob are both free on Monday at 12:00
    berlin_salon(db)
    db.commit()

    # When the same request of Alice's (any master) arrives 24 times at once, as separate
    # messages (no shared message id)
    results = race(
        database_url,
        lambda conn, salon, i: create_booking(
            conn, salon, phone=ALICE, service_code="manicure", starts_at=at(MONDAY, 12), now=NOW
        ),
    )

    # Then one booking exists; the others were told she already has one then
    assert outcome(results) == Counter({"Booking": 1, "ClientBusy": 23})
    winner = next(r for r in results if isinstance(r, Booking))
    busy = next(r for r in results if isinstance(r, ClientBusy))
    assert busy.booking_code == winner.code
    assert [r["code"] for r in live_rows(db)] == [winner.code]


# -- one customer's bookings never overlap --------------------------------------------------


def test_a_customer_cannot_be_booked_twice_at_once_with_two_masters(db: Connection) -> None:
    # Given Alice has anna on Monday 12:00-13:00
    salon = berlin_salon(db)
    mine = book(db, salon, at(MONDAY, 12), master_code="anna")

    # When she books bob at 12:30, or any master at 12:00
    with pytest.raises(ClientBusy) as overlapping:
        book(db, salon, at(MONDAY, 12, 30), master_code="bob")
    with pytest.raises(ClientBusy):
        book(db, salon, at(MONDAY, 12))

    # Then both are refused naming her booking (a SlotTaken, so callers offer other times)
    assert overlapping.value.booking_code == mine.code
    assert str(overlapping.value) == (
        f"the customer already has booking {mine.code} 2026-03-02 12:00-13:00 at that time"
    )
    assert isinstance(overlapping.value, SlotTaken)
    assert [r["code"] for r in live_rows(db)] == [mine.code]


def test_the_buffer_is_the_masters_time_not_the_customers(db: Connection) -> None:
    # Given Alice's manicure with anna ends at 13:00 (anna is blocked until 13:10)
    salon = berlin_salon(db)
    book(db, salon, at(MONDAY, 12), master_code="anna")

    # When Alice goes straight on to bob at 13:00, as the items of a visit do
    haircut = book(db, salon, at(MONDAY, 13), service_code="haircut", master_code="bob")

    # Then it is booked
    assert haircut.starts_at == at(MONDAY, 13)
    assert len(live_rows(db)) == 2


def test_a_move_onto_the_customers_other_booking_is_refused(db: Connection) -> None:
    # Given Alice has anna on Monday at 12:00 and bob on Tuesday at 12:00
    salon = berlin_salon(db)
    monday = book(db, salon, at(MONDAY, 12), master_code="anna")
    tuesday = book(db, salon, at(TUESDAY, 12), master_code="bob")

    # When she moves Tuesday's to Monday 12:30 with bob (free then)
    with pytest.raises(ClientBusy) as refused:
        move_booking(
            db, salon, phone=ALICE, code=tuesday.code, starts_at=at(MONDAY, 12, 30),
            master_code="bob", now=NOW,
        )  # fmt: skip

    # Then it is refused naming Monday's booking, and Tuesday's stays where it was
    assert refused.value.booking_code == monday.code
    assert [(r["code"], r["starts_at"]) for r in live_rows(db)] == [
        (monday.code, at(MONDAY, 12)),
        (tuesday.code, at(TUESDAY, 12)),
    ]
    # while a move overlapping its own old time is fine
    moved = move_booking(
        db, salon, phone=ALICE, code=monday.code, starts_at=at(MONDAY, 12, 30), now=NOW
    )
    assert moved.starts_at == at(MONDAY, 12, 30)


def test_moves_of_one_customer_racing_onto_one_time_leave_one(
    db: Connection, database_url: str
) -> None:
    # Given Alice has two bookings on other days
    salon = berlin_salon(db)
    mine = [book(db, salon, at(day, 12)) for day in (TUESDAY, WORKDAYS[3])]
    db.commit()

    # When both move to Monday 12:00 at once, one with anna and one with bob
    results = race(
        database_url,
        lambda conn, salon, i: move_booking(
            conn, salon, phone=ALICE, code=mine[i].code, starts_at=at(MONDAY, 12),
            master_code=("anna", "bob")[i], now=NOW,
        ),
        attempts=2,
    )  # fmt: skip

    # Then one moved and the other was told she is busy then, and kept its time
    assert outcome(results) == Counter({"Booking": 1, "ClientBusy": 1})
    assert sorted(r["starts_at"] for r in live_rows(db))[0] == at(MONDAY, 12)
    assert len([r for r in live_rows(db) if r["starts_at"] == at(MONDAY, 12)]) == 1


def test_the_database_refuses_overlapping_bookings_of_one_customer(db: Connection) -> None:
    # Given Alice's booking with anna on Monday at 12:00
    salon = berlin_salon(db)
    mine = book(db, salon, at(MONDAY, 12), master_code="anna")
    row = db.execute("SELECT * FROM bookings WHERE id = %s", (mine.id,)).fetchone()
    assert row is not None

    # When a writer that skips the store's checks inserts her with bob at 12:30
    with pytest.raises(pg_errors.ExclusionViolation) as refused:
        db.execute(
            """INSERT INTO bookings (code, salon_id, master_id, service_id, client_id,
                                     starts_at, ends_at, blocked_until, price)
               VALUES ('ZZZZZZ', %s, %s, %s, %s, %s, %s, %s, 40)""",
            (
                salon.id, salon.master("bob").id, row["service_id"], row["client_id"],
                at(MONDAY, 12, 30), at(MONDAY, 13, 30), at(MONDAY, 13, 40),
            ),
        )  # fmt: skip

    # Then the constraint on the client refuses it
    assert refused.value.diag.constraint_name == "bookings_client_no_overlap"


def test_the_stores_own_check_missed_the_constraint_still_answers_client_busy(
    db: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Alice has anna on Monday 12:00 and bob on Tuesday 12:00, and a store whose
    # own check of her calendar sees nothing (as a writer bypassing the lock would)
    salon = berlin_salon(db)
    book(db, salon, at(MONDAY, 12), master_code="anna")
    tuesday = book(db, salon, at(TUESDAY, 12), master_code="bob")
    real = store.client_calendar
    monkeypatch.setattr(
        store,
        "client_calendar",
        lambda *args, **kwargs: ClientCalendar(real(*args, **kwargs).live, None),
    )

    # When she books bob at 12:30 on Monday, or moves Tuesday's there
    with pytest.raises(ClientBusy):
        book(db, salon, at(MONDAY, 12, 30), master_code="bob")
    with pytest.raises(ClientBusy):
        move_booking(
            db, salon, phone=ALICE, code=tuesday.code, starts_at=at(MONDAY, 12, 30),
            master_code="bob", now=NOW,
        )  # fmt: skip

    # Then the constraint's violation is the same clear refusal, and nothing changed
    assert [r["starts_at"] for r in live_rows(db)] == [at(MONDAY, 12), at(TUESDAY, 12)]


def test_in_the_repeated_hour_of_a_dst_night_times_are_instants(db: Connection) -> None:
    # Given Alice has bob at the second 02:00 of the autumn night (winter time, 01:00 UTC)
    salon = berlin_salon(db, min_notice_minutes=0, booking_horizon_days=365)
    early = at(FALL_BACK, 0)
    haircut = book(
        db, salon, at(FALL_BACK, 2, fold=1), service_code="haircut", master_code="bob", now=early
    )

    # When she books anna at the first 02:00 (summer time, 00:00-01:00 UTC), then anna at
    # the second 02:30 (01:30 UTC, inside the haircut)
    manicure = book(db, salon, at(FALL_BACK, 2), master_code="anna", now=early)
    with pytest.raises(ClientBusy) as overlapping:
        book(db, salon, at(FALL_BACK, 2, 30, fold=1), master_code="anna", now=early)

    # Then the first is booked, ending as the haircut starts (the same wall time, an hour
    # apart), and the second is refused for the haircut
    assert manicure.ends_at.timestamp() == haircut.starts_at.timestamp()
    assert overlapping.value.booking_code == haircut.code
