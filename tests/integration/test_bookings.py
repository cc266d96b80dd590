"""The booking store on real PostgreSQL: create, refuse, move, cancel, list, codes,
idempotency and transactions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from psycopg import Rollback

from salonbot.booking import store
from salonbot.booking.availability import free_slots
from salonbot.booking.codes import ALPHABET
from salonbot.booking.store import (
    cancel_booking,
    create_booking,
    find_booking,
    list_bookings,
    move_booking,
)
from salonbot.db.connection import Connection
from salonbot.errors import (
    BookingNotFound,
    InvalidInput,
    SlotTaken,
    SlotUnavailable,
    UnknownService,
)
from tests.integration.salon_builder import (
    MONDAY,
    NOW,
    OTHER_SALON_ID,
    TUESDAY,
    at,
    berlin_salon,
)

ALICE = "+4915100000001"
BRUNO = "+4915100000002"


def count_bookings(db: Connection, status: str = "confirmed") -> int:
    row = db.execute("SELECT count(*) AS n FROM bookings WHERE status = %s", (status,)).fetchone()
    assert row is not None
    n: int = row["n"]
    return n


def book(db: Connection, salon, when: dt.datetime, **kwargs) -> store.Booking:
    options = {"phone": ALICE, "service_code": "manicure", "master_code": "anna", "now": NOW}
    options.update(kwargs)
    return create_booking(db, salon, starts_at=when, **options)


def test_create_stores_the_booking_and_the_client(db: Connection) -> None:
    # Given the Berlin studio, and no transaction open
    salon = berlin_salon(db)
    db.commit()

    # When Alice books a manicure with Anna on Monday at 11:00 (phone typed with spaces)
    booking = book(db, salon, at(MONDAY, 11), phone="+49 151 0000 0001", client_name="Alice")

    # Then the booking is live, priced, coded and in the salon's time zone
    assert booking.status == "confirmed"
    assert booking.master_code == "anna" and booking.master_name == "Anna"
    assert booking.service_code == "manicure" and booking.service_names["de"] == "Maniküre"
    assert booking.starts_at == at(MONDAY, 11) and booking.ends_at == at(MONDAY, 12)
    assert booking.starts_at.tzinfo == salon.tz
    assert booking.price == Decimal("40.00")
    assert booking.phone == ALICE
    assert len(booking.code) == 6 and set(booking.code) <= set(ALPHABET)
    row = db.execute(
        """SELECT b.blocked_until, b.source, c.name, c.phone FROM bookings b
           JOIN clients c ON c.id = b.client_id WHERE b.id = %s""",
        (booking.id,),
    ).fetchone()
    assert row == {
        "blocked_until": at(MONDAY, 12, 10),
        "source": "whatsapp",
        "name": "Alice",
        "phone": ALICE,
    }
    # and it is committed (the store opened its own transaction)
    db.rollback()
    assert count_bookings(db) == 1


def test_any_master_books_the_first_free_one_in_salon_order(db: Connection) -> None:
    salon = berlin_salon(db)

    first = book(db, salon, at(MONDAY, 12), master_code=None)
    second = book(db, salon, at(MONDAY, 12), master_code=None, phone=BRUNO)

    assert (first.master_code, second.master_code) == ("anna", "bob")
    with pytest.raises(SlotTaken):
        book(db, salon, at(MONDAY, 12, 30), master_code=None)
    # 13:30 would run into anna's lunch break: bob takes it
    third = book(db, salon, at(MONDAY, 13, 30), master_code=None, phone=BRUNO)
    assert third.master_code == "bob"


@pytest.mark.parametrize(
    ("when", "master", "reason"),
    [
        (at(MONDAY, 7), "anna", "past"),
        (at(MONDAY, 8, 30), "anna", "notice"),
        (at(MONDAY, 9, 30), "anna", "working hours"),
        (at(MONDAY, 13, 30), "anna", "working hours"),  # into the lunch break
        (at(MONDAY, 18, 30), "anna", "working hours"),
        (at(dt.date(2026, 3, 4), 11), "anna", "day off"),
        (at(MONDAY + dt.timedelta(days=30), 11), "anna", "days ahead"),
        (at(MONDAY, 18, 30), None, "no master who does"),  # anna ends 19:00, bob 18:00
        (at(MONDAY, 7), None, "past"),  # the same reason for everyone is given as is
    ],
)
def test_refused_times_write_nothing(
    db: Connection, when: dt.datetime, master: str | None, reason: str
) -> None:
    salon = berlin_salon(db)

    with pytest.raises(SlotUnavailable, match=reason):
        book(db, salon, when, master_code=master)

    assert count_bookings(db) == 0
    assert db.execute("SELECT count(*) AS n FROM clients").fetchone() == {"n": 0}


def test_buffer_blocks_the_next_start_but_not_one_right_after_it(db: Connection) -> None:
    salon = berlin_salon(db)
    book(db, salon, at(MONDAY, 10))  # blocked until 11:10

    with pytest.raises(SlotTaken):
        book(db, salon, at(MONDAY, 11, 5), phone=BRUNO)
    after = book(db, salon, at(MONDAY, 11, 10), phone=BRUNO)

    assert after.starts_at == at(MONDAY, 11, 10)
    assert count_bookings(db) == 2


def test_bad_input(db: Connection) -> None:
    salon = berlin_salon(db)

    with pytest.raises(InvalidInput, match="phone"):
        book(db, salon, at(MONDAY, 11), phone="0151 123")
    with pytest.raises(InvalidInput, match="starts_at"):
        book(db, salon, dt.datetime(2026, 3, 2, 11))
    with pytest.raises(UnknownService):
        book(db, salon, at(MONDAY, 11), service_code="massage")
    with pytest.raises(InvalidInput, match="master"):
        book(db, salon, at(MONDAY, 13), service_code="haircut", master_code="anna")


def test_cancel_frees_the_slot_and_cannot_be_repeated(db: Connection) -> None:
    salon = berlin_salon(db)
    booking = book(db, salon, at(MONDAY, 11))
    assert "11:00" not in [
        s.starts_at.strftime("%H:%M")
        for s in free_slots(db, salon, "manicure", MONDAY, "anna", now=NOW)
    ]

    cancelled = cancel_booking(db, salon, phone=ALICE, code=booking.code.lower(), now=NOW)

    assert cancelled.status == "cancelled" and cancelled.code == booking.code
    assert at(MONDAY, 11) in [
        s.starts_at for s in free_slots(db, salon, "manicure", MONDAY, "anna", now=NOW)
    ]
    row = db.execute("SELECT cancelled_at FROM bookings WHERE id = %s", (booking.id,)).fetchone()
    assert row == {"cancelled_at": NOW}
    with pytest.raises(BookingNotFound):
        cancel_booking(db, salon, phone=ALICE, code=booking.code, now=NOW)
    # The freed time can be booked again by someone else
    assert book(db, salon, at(MONDAY, 11), phone=BRUNO).starts_at == at(MONDAY, 11)


def test_a_started_booking_can_be_neither_cancelled_nor_moved(db: Connection) -> None:
    salon = berlin_salon(db)
    booking = book(db, salon, at(MONDAY, 11))
    later = at(MONDAY, 11, 30)

    with pytest.raises(InvalidInput, match="started"):
        cancel_booking(db, salon, phone=ALICE, code=booking.code, now=later)
    with pytest.raises(InvalidInput, match="started"):
        move_booking(
            db, salon, phone=ALICE, code=booking.code, starts_at=at(TUESDAY, 11), now=later
        )
    assert count_bookings(db) == 1


def test_another_customers_or_salons_code_is_not_found(db: Connection) -> None:
    # Given Alice's booking, and a second salon with a booking of its own
    salon = berlin_salon(db)
    other_salon = berlin_salon(db, id=str(OTHER_SALON_ID), name="Other Studio")
    alices = book(db, salon, at(MONDAY, 11))
    elsewhere = book(db, other_salon, at(MONDAY, 11), phone=BRUNO)

    # Then Bruno cannot see, cancel or move Alice's booking, nor use his code at salon one
    attempts = [
        lambda: cancel_booking(db, salon, phone=BRUNO, code=alices.code, now=NOW),
        lambda: move_booking(
            db, salon, phone=BRUNO, code=alices.code, starts_at=at(TUESDAY, 11), now=NOW
        ),
        lambda: find_booking(db, salon, phone=BRUNO, code=alices.code),
        lambda: cancel_booking(db, salon, phone=BRUNO, code=elsewhere.code, now=NOW),
        lambda: find_booking(db, salon, phone=ALICE, code="ZZZZZZ"),
    ]
    messages = set()
    for attempt in attempts:
        with pytest.raises(BookingNotFound) as caught:
            attempt()
        messages.add(str(caught.value).replace(alices.code, "X").replace(elsewhere.code, "X"))
    # and the refusal reads the same whether the code is someone else's or unknown
    assert len(messages) == 2  # "X" and "ZZZZZZ" differ only in the code they quote
    assert count_bookings(db) == 2
    assert find_booking(db, salon, phone=ALICE, code=alices.code).status == "confirmed"


def test_move_to_a_free_time_frees_the_old_one(db: Connection) -> None:
    salon = berlin_salon(db)
    booking = book(db, salon, at(MONDAY, 11))

    moved = move_booking(
        db, salon, phone=ALICE, code=booking.code, starts_at=at(TUESDAY, 15), now=NOW
    )

    assert (moved.id, moved.code, moved.starts_at) == (booking.id, booking.code, at(TUESDAY, 15))
    assert moved.ends_at == at(TUESDAY, 16) and moved.master_code == "anna"
    assert at(MONDAY, 11) in [
        s.starts_at for s in free_slots(db, salon, "manicure", MONDAY, "anna", now=NOW)
    ]
    assert at(TUESDAY, 15) not in [
        s.starts_at for s in free_slots(db, salon, "manicure", TUESDAY, "anna", now=NOW)
    ]
    row = db.execute("SELECT blocked_until FROM bookings WHERE id = %s", (booking.id,)).fetchone()
    assert row == {"blocked_until": at(TUESDAY, 16, 10)}
    assert count_bookings(db) == 1


def test_move_onto_a_time_overlapping_itself(db: Connection) -> None:
    salon = berlin_salon(db)
    booking = book(db, salon, at(MONDAY, 11))

    moved = move_booking(
        db, salon, phone=ALICE, code=booking.code, starts_at=at(MONDAY, 11, 30), now=NOW
    )

    assert moved.starts_at == at(MONDAY, 11, 30) and moved.master_code == "anna"
    assert count_bookings(db) == 1


def test_a_refused_move_leaves_the_booking_as_it_was(db: Connection) -> None:
    # Given Alice at 11:00 and Bruno at 15:00, both with anna
    salon = berlin_salon(db)
    alices = book(db, salon, at(MONDAY, 11))
    book(db, salon, at(MONDAY, 15), phone=BRUNO)

    # When Alice tries to move onto Bruno's time, or outside working hours
    with pytest.raises(SlotTaken):
        move_booking(
            db,
            salon,
            phone=ALICE,
            code=alices.code,
            starts_at=at(MONDAY, 15, 30),
            master_code="anna",
            now=NOW,
        )
    with pytest.raises(SlotUnavailable):
        move_booking(db, salon, phone=ALICE, code=alices.code, starts_at=at(MONDAY, 20), now=NOW)

    # Then her booking is unchanged and still holds its time
    assert find_booking(db, salon, phone=ALICE, code=alices.code).starts_at == at(MONDAY, 11)
    with pytest.raises(SlotTaken):
        book(db, salon, at(MONDAY, 11), phone=BRUNO)


def test_move_without_a_master_keeps_the_master_when_free_else_takes_another(
    db: Connection,
) -> None:
    salon = berlin_salon(db)
    alices = book(db, salon, at(MONDAY, 12), master_code="bob")
    book(db, salon, at(MONDAY, 16), phone=BRUNO, master_code="bob")

    kept = move_booking(db, salon, phone=ALICE, code=alices.code, starts_at=at(MONDAY, 13), now=NOW)
    switched = move_booking(
        db, salon, phone=ALICE, code=alices.code, starts_at=at(MONDAY, 16), now=NOW
    )

    assert kept.master_code == "bob"
    assert switched.master_code == "anna"


def test_list_bookings_by_client_and_salon(db: Connection) -> None:
    # Given Alice has two upcoming and one cancelled booking, Bruno one
    salon = berlin_salon(db)
    tuesday = book(db, salon, at(TUESDAY, 11))
    monday = book(db, salon, at(MONDAY, 11))
    cancelled = book(db, salon, at(MONDAY, 15))
    cancel_booking(db, salon, phone=ALICE, code=cancelled.code, now=NOW)
    brunos = book(db, salon, at(MONDAY, 12), phone=BRUNO, master_code="bob")

    # Then Alice sees her upcoming ones in time order, Bruno his, the salon everyone's
    assert [b.code for b in list_bookings(db, salon, phone=ALICE, now=NOW)] == [
        monday.code,
        tuesday.code,
    ]
    assert [b.code for b in list_bookings(db, salon, phone=BRUNO, now=NOW)] == [brunos.code]
    assert len(list_bookings(db, salon, now=NOW)) == 3
    # history includes the cancelled one; after Monday only Tuesday is upcoming
    history = list_bookings(db, salon, phone=ALICE, upcoming_only=False, now=NOW)
    assert {b.status for b in history} == {"confirmed", "cancelled"} and len(history) == 3
    later = at(MONDAY, 20)
    assert [b.code for b in list_bookings(db, salon, phone=ALICE, now=later)] == [tuesday.code]
    assert list_bookings(db, salon, phone="+4915199999999", now=NOW) == []


def test_same_source_message_twice_books_once(db: Connection) -> None:
    salon = berlin_salon(db)

    first = book(db, salon, at(MONDAY, 11), source_message_id="wamid.A1")
    again = book(db, salon, at(MONDAY, 11), source_message_id="wamid.A1")
    # even when the redelivered message would now ask for something else
    other = book(db, salon, at(TUESDAY, 11), source_message_id="wamid.A1")

    assert first == again == other
    assert count_bookings(db) == 1


def test_a_booking_code_collision_is_retried(
    db: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an existing booking, and a code generator that first repeats its code
    salon = berlin_salon(db)
    existing = book(db, salon, at(MONDAY, 11))
    codes = iter([existing.code, existing.code, "HJK234"])
    monkeypatch.setattr(store, "new_booking_code", lambda: next(codes))

    # When another booking is made
    booking = book(db, salon, at(MONDAY, 15), phone=BRUNO)

    # Then it got the first unused code
    assert booking.code == "HJK234"
    assert count_bookings(db) == 2


def test_inside_a_callers_transaction_the_booking_commits_with_it(db: Connection) -> None:
    salon = berlin_salon(db)
    db.commit()

    # When a booking is made inside the caller's transaction, which then rolls back
    with db.transaction():
        db.execute("SELECT 1")
        book(db, salon, at(MONDAY, 11), source_message_id="wamid.B1")
        # a refused attempt rolls back only its own savepoint
        with pytest.raises(SlotTaken):
            book(db, salon, at(MONDAY, 11, 30), phone=BRUNO)
        assert count_bookings(db) == 1
        db.execute("SELECT 1")  # the transaction is still usable
        raise Rollback()

    # Then nothing was written
    assert count_bookings(db) == 0
