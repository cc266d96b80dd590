"""Visits of several services, processing time and a shared resource, told to both desks
(`PostgresDesk` on PostgreSQL and the in-memory desk): the same slots, bookings and
refusals, so the engines' fast tests mean what the database means."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from salonbot.booking.catalog import load_salon
from salonbot.booking.desk import BookingDesk, PostgresDesk
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import validate_salon
from salonbot.errors import ChangeTooLate, ClientBusy, InvalidInput, SlotTaken
from tests.fakes.memory_desk import Calendar, salon_from_file
from tests.integration.visit_salon import NOW, TUESDAY, at, visit_salon_data

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.db.connection import Connection

ALICE = "+79000000001"
BORIS = "+79000000002"
CLARA = "+79000000003"
VISIT = ["manicure", "pedicure"]


@pytest.fixture(params=["postgres", "memory"])
def desks(request: pytest.FixtureRequest) -> Callable[[str], BookingDesk]:
    file = validate_salon(visit_salon_data())
    if request.param == "memory":
        calendar = Calendar(salon_from_file(file))
        return lambda phone: calendar.desk(phone, NOW)
    db: Connection = request.getfixturevalue("db")
    import_salon(db, file)
    salon = load_salon(db, file.id)  # type: ignore[arg-type]
    return lambda phone: PostgresDesk(db, salon, phone, NOW)


def items(booking_or_slot: object) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    return [
        (i.service_code, i.master_code, i.starts_at, i.ends_at)
        for i in booking_or_slot.items  # type: ignore[attr-defined]
    ]


def test_a_visit_is_booked_back_to_back_and_blocks_each_item(
    desks: Callable[[str], BookingDesk],
) -> None:
    alice, boris = desks(ALICE), desks(BORIS)
    # Given nothing booked, a manicure + pedicure visit can start at 12:00
    starts = [s.starts_at for s in alice.slots_on(VISIT, TUESDAY)]
    assert at(12) in starts

    # When Alice books it with any master
    visit = alice.book(VISIT, at(12))

    # Then one visit of two items back to back, the first free master for each
    assert items(visit) == [
        ("manicure", "nails1", at(12), at(13)),
        ("pedicure", "nails1", at(13), at(14)),
    ]
    assert (visit.starts_at, visit.ends_at, visit.price) == (at(12), at(14), Decimal(3500))
    assert [b.code for b in alice.upcoming()] == [visit.code]
    # and the one pedicure chair is hers from 13:00 to 14:00: Boris's visit at 12:00
    # would need it then, with nails2 free
    slot_starts = {s.starts_at: s for s in boris.slots_on(VISIT, TUESDAY)}
    assert at(12) not in slot_starts
    # at 11:00 his pedicure (12:00-13:00) gets the chair, both items with nails2 (nails1's
    # buffer after an 11:00 manicure would run into Alice's 12:00)
    assert [i.master_code for i in slot_starts[at(11)].items] == ["nails2", "nails2"]
    with pytest.raises(SlotTaken):
        boris.book("pedicure", at(13, 30))
    # ...and a manicure with nails2 at the same time is not in the chair
    assert boris.book("manicure", at(12), "nails2").master_code == "nails2"
    # and nails1 keeps her buffer after the pedicure (15 minutes)
    clara = desks(CLARA)
    later = [(s.starts_at, s.master_code) for s in clara.slots_on("manicure", TUESDAY, "nails1")]
    assert (at(14), "nails1") not in later and (at(14, 15), "nails1") in later


def test_one_named_master_takes_every_item_and_a_move_moves_them_all(
    desks: Callable[[str], BookingDesk],
) -> None:
    alice = desks(ALICE)
    visit = alice.book(VISIT, at(12), "nails2")
    assert [i.master_code for i in visit.items] == ["nails2", "nails2"]

    moved = alice.move(visit.code, at(15))
    assert items(moved) == [
        ("manicure", "nails2", at(15), at(16)),
        ("pedicure", "nails2", at(16), at(17)),
    ]
    assert (moved.code, moved.price) == (visit.code, visit.price)
    # The old time is free again, the new one is taken
    boris = desks(BORIS)
    assert boris.book("pedicure", at(13)).starts_at == at(13)
    with pytest.raises(SlotTaken):
        boris.book("pedicure", at(16, 30), "nails1")  # the one chair is Alice's

    cancelled = alice.cancel(visit.code)
    assert cancelled.status == "cancelled"
    assert boris.book("pedicure", at(16, 30)).starts_at == at(16, 30)


def test_the_master_is_free_while_a_colour_processes_but_the_client_is_not(
    desks: Callable[[str], BookingDesk],
) -> None:
    alice, boris = desks(ALICE), desks(BORIS)
    # Given Alice's colouring 12:00-14:00: olga works until 13:00, the colour processes
    # 13:00-13:40, olga finishes it 13:40-14:00
    alice.book("coloring", at(12), "olga")

    # Then olga may cut Boris's hair inside the processing, and not past it
    free = [s.starts_at for s in boris.slots_on("haircut", TUESDAY, "olga")]
    assert at(13) in free and at(13, 15) not in free and at(12, 30) not in free
    with pytest.raises(SlotTaken):
        boris.book("haircut", at(13, 30), "olga")
    assert boris.book("haircut", at(13, 10), "olga").ends_at == at(13, 40)
    # and Alice herself is in the chair all along
    with pytest.raises(ClientBusy):
        alice.book("manicure", at(13), "nails1")


def test_a_visit_is_refused_whole(desks: Callable[[str], BookingDesk]) -> None:
    alice, boris = desks(ALICE), desks(BORIS)
    boris.book("pedicure", at(13))
    # When Alice asks for manicure then pedicure at 12:00 (the chair is Boris's at 13:00)
    with pytest.raises(SlotTaken):
        alice.book(VISIT, at(12))
    # Then nothing of it was booked
    assert alice.upcoming() == []
    # and a master who does not do every service cannot take a visit alone
    with pytest.raises(InvalidInput):
        alice.book(["manicure", "haircut"], at(15), "nails1")
    # and a visit with different masters works
    visit = alice.book(["manicure", "haircut"], at(15))
    assert [i.master_code for i in visit.items] == ["nails1", "olga"]


@pytest.mark.parametrize("kind", ["postgres", "memory"])
def test_inside_the_cut_offs_the_customer_cannot_change_the_visit_and_staff_can(
    kind: str, request: pytest.FixtureRequest
) -> None:
    # Given a salon whose customers may cancel up to 3 hours and move up to 2 hours ahead
    file = validate_salon(visit_salon_data(cancel_notice_minutes=180, move_notice_minutes=120))
    now = at(9, 30)
    if kind == "memory":
        calendar = Calendar(salon_from_file(file))
        desk: BookingDesk = calendar.desk(ALICE, NOW)
        later: BookingDesk = calendar.desk(ALICE, now)
    else:
        db: Connection = request.getfixturevalue("db")
        import_salon(db, file)
        salon = load_salon(db, file.id)  # type: ignore[arg-type]
        desk, later = PostgresDesk(db, salon, ALICE, NOW), PostgresDesk(db, salon, ALICE, now)
    visit = desk.book(VISIT, at(12))

    # When, 2.5 hours before, she asks to cancel, then to move: cancelling is refused, moving
    # is still allowed
    with pytest.raises(ChangeTooLate) as refused:
        later.cancel(visit.code)
    assert refused.value.notice_minutes == 180
    moved = later.move(visit.code, at(12, 15))
    assert moved.starts_at == at(12, 15)
    assert [b.status for b in later.upcoming()] == ["confirmed"]
    if kind == "postgres":
        # and staff (the store without the customer's rule) still can cancel it
        from salonbot.booking.store import cancel_booking

        staff = cancel_booking(db, salon, phone=ALICE, code=visit.code, now=now)
        assert staff.status == "cancelled"


def test_the_last_visit_is_the_latest_started_one_not_cancelled(
    desks: Callable[[str], BookingDesk], request: pytest.FixtureRequest
) -> None:
    # Given Alice's visit on Tuesday 12:00 and a manicure she cancelled on Wednesday
    alice = desks(ALICE)
    visit = alice.book(VISIT, at(12))
    cancelled = alice.book("manicure", at(12, day=TUESDAY + dt.timedelta(days=1)))
    alice.cancel(cancelled.code)
    assert alice.last_visit() is None  # nothing has started yet

    # When she writes a week later
    later = _desk_at(alice, NOW + dt.timedelta(days=7))

    # Then her last visit is Tuesday's, with its items
    last = later.last_visit()
    assert last is not None and last.code == visit.code
    assert [i.service_code for i in last.items] == VISIT
    assert desks(BORIS).last_visit() is None


def _desk_at(desk: BookingDesk, now: dt.datetime) -> BookingDesk:
    if isinstance(desk, PostgresDesk):
        return PostgresDesk(desk.conn, desk.salon, desk.phone, now)
    return desk.calendar.desk(desk.phone, now)  # type: ignore[attr-defined]
