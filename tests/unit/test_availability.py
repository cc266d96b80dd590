"""The availability engine's pure parts: slot arithmetic, DST, checks of one requested
time, booking codes. No database: bookings are given as busy intervals."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from salonbot.booking.availability import (
    BusyIndex,
    BusyTimes,
    bookable_days,
    check_bookable,
    slots_for_day,
)
from salonbot.booking.catalog import Master, Salon, Service, Shift
from salonbot.booking.codes import (
    ALPHABET,
    is_booking_code,
    looks_like_code,
    new_booking_code,
    normalize_booking_code,
)
from salonbot.errors import InvalidInput, SlotUnavailable

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=BERLIN)

MANICURE = Service(
    id=1,
    code="manicure",
    names={"en": "Manicure"},
    duration_minutes=60,
    buffer_after_minutes=10,
    price=Decimal(40),
)


def t(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


def make_master(
    code: str = "anna",
    master_id: int = 1,
    shifts: dict[int, tuple[Shift, ...]] | None = None,
    days_off: frozenset[dt.date] = frozenset(),
) -> Master:
    week = {day: (Shift(t(10), t(14)), Shift(t(15), t(19))) for day in range(1, 8)}
    return Master(
        id=master_id,
        code=code,
        name=code.title(),
        service_ids=frozenset({MANICURE.id}),
        shifts=week if shifts is None else shifts,
        days_off=days_off,
    )


def make_salon(*masters: Master, timezone: str = "Europe/Berlin", **settings: int) -> Salon:
    chosen = masters or (make_master(),)
    return Salon(
        id=uuid.uuid4(),
        name="Test",
        timezone=timezone,
        language="en",
        currency="EUR",
        address=None,
        whatsapp_phone_number_id=None,
        ai_enabled=False,
        daily_budget_usd=Decimal(5),
        slot_step_minutes=settings.get("slot_step_minutes", 15),
        min_notice_minutes=settings.get("min_notice_minutes", 60),
        booking_horizon_days=settings.get("booking_horizon_days", 30),
        revision=1,
        services={MANICURE.code: MANICURE},
        masters={m.code: m for m in chosen},
    )


def local_times(slots: list, tz: ZoneInfo = BERLIN) -> list[str]:
    return [s.starts_at.astimezone(tz).strftime("%H:%M%z") for s in slots]


def busy(*ranges: tuple[dt.datetime, dt.datetime], master_id: int = 1) -> BusyTimes:
    return {master_id: [(a.timestamp(), b.timestamp()) for a, b in ranges]}


def berlin(day: dt.date, hour: int, minute: int = 0, fold: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN, fold=fold)


def test_a_day_is_stepped_within_shifts_and_the_break_is_left_out() -> None:
    # Given a master working 10-14 and 15-19, a 60-minute service and a 15-minute step
    salon = make_salon()

    # When the day's slots are computed
    slots = slots_for_day(salon, MANICURE, salon.masters.values(), MONDAY, {}, NOW)

    # Then the service fits entirely inside one shift: 10:00..13:00 and 15:00..18:00
    starts = [s.starts_at.strftime("%H:%M") for s in slots]
    assert starts[0] == "10:00"
    assert "13:00" in starts and "13:15" not in starts and "14:00" not in starts
    assert "15:00" in starts and starts[-1] == "18:00"
    assert len(starts) == 13 + 13
    assert all(s.ends_at - s.starts_at == dt.timedelta(minutes=60) for s in slots)
    assert all(s.starts_at.tzinfo == BERLIN for s in slots)


def test_a_booking_blocks_its_buffer_too() -> None:
    # Given a booking 11:00-12:00 whose buffer blocks until 12:10
    salon = make_salon()
    taken = busy((berlin(MONDAY, 11), berlin(MONDAY, 12, 10)))

    # When the day's slots are computed for a service with a 10-minute buffer
    starts = [
        s.starts_at.strftime("%H:%M")
        for s in slots_for_day(salon, MANICURE, salon.masters.values(), MONDAY, taken, NOW)
    ]

    # Then a start must leave room for service and buffer before 11:00 (10:00 would
    # block until 11:10), and nothing starts while the booking or its buffer runs
    assert "09:45" not in starts and "10:00" not in starts
    assert "10:15" not in starts and "11:00" not in starts and "12:00" not in starts
    # and the first start after it is the first step at or after 12:10
    assert "12:15" in starts
    assert starts[0] == "12:15"


def test_a_start_may_end_exactly_where_the_next_booking_begins() -> None:
    salon = make_salon()
    # A booking from 11:10: 10:00 + 60 min + 10 min buffer ends exactly at 11:10.
    taken = busy((berlin(MONDAY, 11, 10), berlin(MONDAY, 12, 20)))

    starts = [
        s.starts_at.strftime("%H:%M")
        for s in slots_for_day(salon, MANICURE, salon.masters.values(), MONDAY, taken, NOW)
    ]

    assert starts[:2] == ["10:00", "12:30"]


def test_day_off_and_unworked_weekday_give_no_slots() -> None:
    master = make_master(
        shifts={1: (Shift(t(10), t(14)),)}, days_off=frozenset({dt.date(2026, 3, 9)})
    )
    salon = make_salon(master)

    assert slots_for_day(salon, MANICURE, [master], MONDAY, {}, NOW)
    assert slots_for_day(salon, MANICURE, [master], dt.date(2026, 3, 9), {}, NOW) == []
    assert slots_for_day(salon, MANICURE, [master], dt.date(2026, 3, 3), {}, NOW) == []


def test_min_notice_moves_the_first_start_to_the_next_step() -> None:
    # Given it is 10:20 and bookings need 60 minutes' notice
    salon = make_salon(min_notice_minutes=60)
    now = berlin(MONDAY, 10, 20)

    # When today's slots are computed
    slots = slots_for_day(salon, MANICURE, salon.masters.values(), MONDAY, {}, now)

    # Then the first start is the first step at or after 11:20
    assert slots[0].starts_at == berlin(MONDAY, 11, 30)


def test_past_days_and_days_beyond_the_horizon_have_no_slots() -> None:
    salon = make_salon(booking_horizon_days=30)
    masters = list(salon.masters.values())

    yesterday = MONDAY - dt.timedelta(days=1)
    last_day = MONDAY + dt.timedelta(days=29)
    assert slots_for_day(salon, MANICURE, masters, yesterday, {}, NOW) == []
    assert slots_for_day(salon, MANICURE, masters, last_day, {}, NOW)
    assert slots_for_day(salon, MANICURE, masters, last_day + dt.timedelta(days=1), {}, NOW) == []
    assert bookable_days(salon, NOW)[-1] == last_day
    assert bookable_days(salon, NOW, 3) == [MONDAY + dt.timedelta(days=i) for i in range(3)]


def test_any_master_gives_one_slot_per_time_from_the_first_free_master() -> None:
    # Given anna (first) is busy 10:00-12:00 and bob works 10-14 as well
    anna = make_master("anna", 1)
    bob = make_master("bob", 2, shifts={1: (Shift(t(10), t(14)),)})
    salon = make_salon(anna, bob)
    taken = busy((berlin(MONDAY, 10), berlin(MONDAY, 12)), master_id=anna.id)

    # When the day's slots for any master are computed
    slots = slots_for_day(salon, MANICURE, [anna, bob], MONDAY, taken, NOW)

    # Then each start time appears once, with anna wherever she is free
    starts = [s.starts_at for s in slots]
    assert len(starts) == len(set(starts)) and starts == sorted(starts)
    by_time = {s.starts_at.strftime("%H:%M"): s.master_code for s in slots}
    assert by_time["10:00"] == "bob"
    assert by_time["12:00"] == "anna"
    assert by_time["15:00"] == "anna"


def test_spring_forward_night_skips_the_missing_hour() -> None:
    # Given a shift 01:00-04:00 on the night clocks jump from 02:00 to 03:00
    night = dt.date(2026, 3, 29)
    master = make_master(shifts={7: (Shift(t(1), t(4)),)})
    salon = make_salon(master, slot_step_minutes=30, min_notice_minutes=0)

    # When the slots are computed
    slots = slots_for_day(salon, MANICURE, [master], night, {}, berlin(MONDAY, 0))

    # Then the shift lasts two real hours and no slot starts at a non-existent 02:xx
    assert local_times(slots) == ["01:00+0100", "01:30+0100", "03:00+0200"]
    assert slots[-1].ends_at == berlin(night, 4)


def test_fall_back_night_offers_the_repeated_hour_twice() -> None:
    # Given a shift 01:00-04:00 on the night clocks fall back from 03:00 to 02:00
    night = dt.date(2026, 10, 25)
    master = make_master(shifts={7: (Shift(t(1), t(4)),)})
    salon = make_salon(master, slot_step_minutes=60, min_notice_minutes=0, booking_horizon_days=365)

    # When the slots are computed
    slots = slots_for_day(salon, MANICURE, [master], night, {}, berlin(MONDAY, 0))

    # Then the shift lasts four real hours and 02:00 appears once per UTC offset
    assert local_times(slots) == ["01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100"]
    assert [s.starts_at.fold for s in slots] == [0, 0, 1, 0]


def test_fall_back_booking_in_the_first_repeated_hour_leaves_the_second_free() -> None:
    night = dt.date(2026, 10, 25)
    master = make_master(shifts={7: (Shift(t(1), t(4)),)})
    salon = make_salon(master, slot_step_minutes=60, min_notice_minutes=0, booking_horizon_days=365)
    first_two = berlin(night, 2)  # 02:00 summer time = 00:00 UTC
    # (Aware datetime arithmetic is wall-clock arithmetic in Python: add in UTC.)
    taken = busy((first_two, first_two.astimezone(dt.UTC) + dt.timedelta(minutes=70)))

    slots = slots_for_day(salon, MANICURE, [master], night, taken, berlin(MONDAY, 0))

    # 01:00 ends at the first 02:00 (+10 min buffer overlaps), the first 02:00 is taken,
    # and the second 02:00 (an hour later in real time) would run into the buffer.
    assert local_times(slots) == ["03:00+0100"]


def test_a_shift_starting_inside_the_spring_gap_starts_when_clocks_resume() -> None:
    night = dt.date(2026, 3, 29)
    master = make_master(shifts={7: (Shift(t(2, 30), t(5)),)})
    salon = make_salon(master, slot_step_minutes=30, min_notice_minutes=0)

    slots = slots_for_day(salon, MANICURE, [master], night, {}, berlin(MONDAY, 0))

    # 02:30 does not exist; it resolves with the winter offset, i.e. 03:30 summer time.
    assert local_times(slots) == ["03:30+0200", "04:00+0200"]


def test_new_york_dst_nights_behave_the_same() -> None:
    master = make_master(shifts={7: (Shift(t(0), t(4)),)})
    salon = make_salon(
        master,
        timezone="America/New_York",
        slot_step_minutes=60,
        min_notice_minutes=0,
        booking_horizon_days=365,
    )
    now = dt.datetime(2026, 3, 1, tzinfo=NEW_YORK)

    spring = slots_for_day(salon, MANICURE, [master], dt.date(2026, 3, 8), {}, now)
    fall = slots_for_day(salon, MANICURE, [master], dt.date(2026, 11, 1), {}, now)

    assert local_times(spring, NEW_YORK) == ["00:00-0500", "01:00-0500", "03:00-0400"]
    assert local_times(fall, NEW_YORK) == [
        "00:00-0400",
        "01:00-0400",
        "01:00-0500",
        "02:00-0500",
        "03:00-0500",
    ]


def test_busy_index_checks_overlap_with_half_open_intervals() -> None:
    index = BusyIndex([(60.0, 90.0), (100.0, 200.0)])

    assert index.is_free(0, 60) and index.is_free(90, 100) and index.is_free(200, 300)
    assert not index.is_free(0, 61)
    assert not index.is_free(89, 95)
    assert not index.is_free(95, 101)
    assert not index.is_free(150, 160)
    assert not index.is_free(0, 1000)
    assert BusyIndex([]).is_free(0, 1000)


class TestCheckBookable:
    salon = make_salon(make_master(days_off=frozenset({dt.date(2026, 3, 4)})))
    master = salon.masters["anna"]

    def check(self, when: dt.datetime, now: dt.datetime = NOW) -> None:
        check_bookable(self.salon, MANICURE, self.master, when, now)

    def test_a_time_inside_a_shift_is_accepted_with_its_buffer(self) -> None:
        requested = check_bookable(self.salon, MANICURE, self.master, berlin(MONDAY, 13), NOW)
        assert requested.ends_at == berlin(MONDAY, 14)
        assert requested.blocked_until == berlin(MONDAY, 14, 10)

    def test_an_off_grid_minute_inside_hours_is_accepted(self) -> None:
        self.check(berlin(MONDAY, 10, 7))

    @pytest.mark.parametrize(
        ("when", "reason"),
        [
            (berlin(MONDAY, 6), "past"),
            (berlin(MONDAY, 7, 30), "notice"),
            (berlin(MONDAY, 9, 30), "working hours"),
            (berlin(MONDAY, 13, 30), "working hours"),  # runs into the break
            (berlin(MONDAY, 18, 30), "working hours"),
            (berlin(dt.date(2026, 3, 4), 11), "day off"),
            (berlin(MONDAY + dt.timedelta(days=30), 11), "days ahead"),
        ],
    )
    def test_refusals_say_why(self, when: dt.datetime, reason: str) -> None:
        with pytest.raises(SlotUnavailable, match=reason):
            self.check(when)

    def test_a_naive_time_is_invalid_input(self) -> None:
        with pytest.raises(InvalidInput, match="starts_at"):
            self.check(dt.datetime(2026, 3, 2, 11))

    def test_a_time_in_another_zone_means_the_same_instant(self) -> None:
        # 10:00 UTC is 11:00 in Berlin in March: inside the morning shift
        self.check(dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC))
        with pytest.raises(SlotUnavailable):
            self.check(dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC))  # 09:00 Berlin


def test_booking_codes_are_short_unambiguous_and_forgiving_to_type() -> None:
    codes = {new_booking_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(len(c) == 6 and set(c) <= set(ALPHABET) for c in codes)
    assert not set("01OI") & set(ALPHABET)
    assert normalize_booking_code(" #a7k-2qx ") == "A7K2QX"
    assert is_booking_code("a7k 2qx")
    assert not is_booking_code("A7K2Q0") and not is_booking_code("A7K2Q")


def test_codes_mix_letters_and_digits_so_words_and_numbers_are_never_codes() -> None:
    codes = [new_booking_code() for _ in range(2000)]
    assert all(looks_like_code(c) for c in codes)
    assert not looks_like_code("PLEASE") and not looks_like_code("234567")
    assert looks_like_code("A7K2QX") and not looks_like_code("A7K2Q")
