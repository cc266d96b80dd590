"""The two booking desks agree: the same customer story told to `PostgresDesk` (the real
store on PostgreSQL) and to the in-memory desk the engines' unit tests use gives the same
slots, bookings, refusals and errors. If they drift apart, the fast tests stop meaning
anything, so every rule the memory desk copies is checked here against the database."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from salonbot.booking.catalog import load_salon
from salonbot.booking.desk import BookingDesk, PostgresDesk
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.errors import (
    BookingLimitReached,
    BookingNotFound,
    ClientBusy,
    InvalidInput,
    SlotTaken,
    SlotUnavailable,
    UnknownMaster,
)
from tests.conftest import DEMO_SALON_FILE
from tests.fakes.memory_desk import Calendar, salon_from_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.db.connection import Connection

MOSCOW = ZoneInfo("Europe/Moscow")
# A Monday morning; the demo salon opens at 10:00.
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=MOSCOW)
ALICE = "+79000000001"
BORIS = "+79000000002"


@pytest.fixture(params=["postgres", "memory"])
def desks(request: pytest.FixtureRequest) -> Callable[[str, dt.datetime], BookingDesk]:
    file = load_salon_file(DEMO_SALON_FILE)
    if request.param == "memory":
        calendar = Calendar(salon_from_file(file))
        return calendar.desk
    db: Connection = request.getfixturevalue("db")
    import_salon(db, file)
    salon = load_salon(db, file.id)  # type: ignore[arg-type]
    return lambda phone, now: PostgresDesk(db, salon, phone, now)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=MOSCOW)


def summary(desk: BookingDesk, day: dt.date, service: str, master: str | None = None) -> list:
    return [(s.starts_at, s.master_code) for s in desk.slots_on(service, day, master)]


def test_reading_the_calendar(desks: Callable[[str, dt.datetime], BookingDesk]) -> None:
    desk = desks(ALICE, NOW)
    assert [s.code for s in desk.services()][:3] == ["manicure", "manicure_gel", "pedicure"]
    today = summary(desk, NOW.date(), "manicure")
    assert today and today[0][0] >= NOW + dt.timedelta(minutes=60)  # minimum notice
    earliest = desk.earliest("manicure", limit=3)
    assert [(s.starts_at, s.master_code) for s in earliest] == today[:3]
    days = [NOW.date() + dt.timedelta(days=i) for i in range(40)]
    by_day = desk.slots_by_day("manicure", days, limit_days=4)
    assert len(by_day) == 4
    assert all(day < NOW.date() + dt.timedelta(days=30) for day in by_day)  # the horizon


def test_booking_moving_cancelling(desks: Callable[[str, dt.datetime], BookingDesk]) -> None:
    alice, boris = desks(ALICE, NOW), desks(BORIS, NOW)
    booked = alice.book("manicure", at(8, 12), "anna", client_name="Алиса", source_message_id="m1")
    assert (booked.status, booked.master_code, booked.starts_at) == ("confirmed", "anna", at(8, 12))
    assert booked.ends_at == at(8, 13)
    # The same message again is the same booking, not a second one.
    assert alice.book("manicure", at(8, 12), "anna", source_message_id="m1").code == booked.code
    assert [b.code for b in alice.upcoming()] == [booked.code]
    assert boris.upcoming() == []
    # The master is busy for the service plus its buffer.
    anna_day = summary(boris, dt.date(2026, 12, 8), "manicure", "anna")
    assert (at(8, 12), "anna") not in anna_day
    assert (at(8, 13), "anna") not in anna_day  # the 10-minute buffer
    with pytest.raises(SlotTaken):
        boris.book("manicure", at(8, 12, 30), "anna")
    with pytest.raises(BookingNotFound):
        boris.find(booked.code)
    with pytest.raises(BookingNotFound):
        boris.cancel(booked.code)
    # Moving: the old time does not block the new one; the current master is kept.
    moved = alice.move(booked.code.lower(), at(8, 12, 30))
    assert (moved.code, moved.master_code, moved.starts_at) == (booked.code, "anna", at(8, 12, 30))
    excluded = alice.slots_by_day(
        "manicure", [dt.date(2026, 12, 8)], "anna", exclude_booking=moved.id
    )
    assert at(8, 12, 30) in [s.starts_at for s in excluded[dt.date(2026, 12, 8)]]
    cancelled = alice.cancel(booked.code)
    assert cancelled.status == "cancelled"
    assert alice.upcoming() == []
    assert alice.find(booked.code).status == "cancelled"
    with pytest.raises(BookingNotFound):
        alice.cancel(booked.code)


def test_refusals(desks: Callable[[str, dt.datetime], BookingDesk]) -> None:
    desk = desks(ALICE, NOW)
    with pytest.raises(SlotUnavailable, match="past"):
        desk.book("manicure", at(1, 12))
    with pytest.raises(SlotUnavailable, match="notice"):
        desk.book("manicure", NOW + dt.timedelta(minutes=30))
    with pytest.raises(SlotUnavailable, match="days ahead"):
        desk.book("manicure", NOW + dt.timedelta(days=45))
    with pytest.raises(SlotUnavailable, match="working hours"):
        desk.book("manicure", at(8, 23), "anna")
    with pytest.raises(InvalidInput, match="does not do"):
        desk.book("manicure", at(8, 12), "olga")
    with pytest.raises(UnknownMaster):
        desk.book("manicure", at(8, 12), "nobody")
    started = desk.book("manicure", at(8, 12))
    later = desks(ALICE, at(8, 12, 15))
    with pytest.raises(InvalidInput, match="already started"):
        later.cancel(started.code)


def test_move_when_the_master_is_busy_and_no_other_works_then(
    desks: Callable[[str, dt.datetime], BookingDesk],
) -> None:
    """Tuesday 10:00: Anna works (and is taken), Maria starts at 12:00. A move with no
    master named is refused as taken, and the booking stays where it was."""
    alice, boris = desks(ALICE, NOW), desks(BORIS, NOW)
    alice.book("manicure", at(8, 10), "anna")
    mine = boris.book("manicure", at(8, 12), "anna")
    with pytest.raises(SlotTaken):
        boris.move(mine.code, at(8, 10))
    assert boris.find(mine.code).starts_at == at(8, 12)
    moved = boris.move(mine.code, at(8, 13), "maria")
    assert (moved.master_code, moved.starts_at) == ("maria", at(8, 13))


def test_one_customer_neither_overlaps_herself_nor_passes_the_limit(
    desks: Callable[[str, dt.datetime], BookingDesk],
) -> None:
    """Alice books anna on Tuesday at 12:00; the salon allows three live bookings."""
    alice, boris = desks(ALICE, NOW), desks(BORIS, NOW)
    first = alice.book("manicure", at(8, 12), "anna")
    # Not at once with another master, nor with any master; Boris is not affected.
    with pytest.raises(ClientBusy) as busy:
        alice.book("manicure", at(8, 12, 30), "maria")
    assert busy.value.booking_code == first.code
    assert str(busy.value) == (
        f"the customer already has booking {first.code} 2026-12-08 12:00-13:00 at that time"
    )
    with pytest.raises(ClientBusy):
        alice.book("manicure", at(8, 12))
    assert boris.book("manicure", at(8, 12, 30), "maria").master_code == "maria"
    # Straight on to a haircut when the manicure ends, inside anna's buffer.
    second = alice.book("haircut_men", at(8, 13), "dmitry")
    third = alice.book("manicure", at(7, 12), "anna")
    # At the limit, even a time that would be refused anyway is refused for the limit.
    with pytest.raises(BookingLimitReached) as limit:
        alice.book("manicure", at(7, 16), "anna")
    assert limit.value.limit == 3
    with pytest.raises(BookingLimitReached):
        alice.book("manicure", at(8, 23), "anna")
    # A move onto her own other booking is refused and changes nothing (maria is free
    # from 13:40, the haircut ends at 13:45); right after it, the move is made.
    with pytest.raises(ClientBusy) as moved:
        alice.move(third.code, at(8, 13, 40), "maria")
    assert moved.value.booking_code == second.code
    assert alice.find(third.code).starts_at == at(7, 12)
    assert alice.move(third.code, at(8, 13, 45), "maria").starts_at == at(8, 13, 45)
    # A cancelled booking frees a place.
    alice.cancel(second.code)
    alice.book("manicure", at(7, 16), "anna")
    assert len(alice.upcoming()) == 3
