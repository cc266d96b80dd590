"""The tools against the in-memory booking desk: what the model is told for each call,
and what each call did to the calendar. The demo salon (Moscow); the customer writes on
Monday 7 December 2026 at 09:00, before opening. Anna does manicures Mon/Tue 10-14 and
15-20, Maria Tue 12-16 and 17-21; a manicure is 60 minutes plus a 10-minute buffer, at
least 60 minutes ahead."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from salonbot.assistant.tools import ToolContext, run_tool
from tests.conftest import DEMO_SALON_FILE
from tests.fakes.memory_desk import Calendar, salon_from_file

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=MOSCOW)  # a Monday
ALICE = "+79000000001"
BORIS = "+79000000002"


@pytest.fixture
def calendar() -> Calendar:
    return Calendar(salon_from_file(DEMO_SALON_FILE))


def context(
    calendar: Calendar, phone: str = ALICE, *, language: str = "ru", **turn: Any
) -> ToolContext:
    return ToolContext(desk=calendar.desk(phone, NOW), language=language, **turn)


def call(ctx: ToolContext, name: str, **arguments: object) -> dict[str, Any]:
    return run_tool(ctx, name, json.dumps(arguments))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=MOSCOW)


# -- services and free times --------------------------------------------------------------


def test_services_lists_each_service_with_its_price_and_masters_in_the_customers_language(
    calendar: Calendar,
) -> None:
    # When the model asks for the services, in Russian and in English
    ru = call(context(calendar), "services")
    en = call(context(calendar, language="en"), "services")

    # Then every service comes, in salon order, with duration, price and who does it
    assert ru["ok"] is True
    assert [s["code"] for s in ru["services"]] == [
        "manicure", "manicure_gel", "pedicure", "haircut_women", "haircut_men", "coloring",
        "brows",
    ]  # fmt: skip
    assert ru["services"][0] == {
        "code": "manicure",
        "name": "Маникюр",
        "min": 60,
        "price": "1500 RUB",
        "masters": ["anna", "maria"],
    }
    assert en["services"][0]["name"] == "Manicure"


def test_slots_for_a_day_are_runs_of_start_times_per_master(calendar: Calendar) -> None:
    # When the model asks for Tuesday's manicure times, for anyone and for Maria
    anyone = call(context(calendar), "slots", service="manicure", date="2026-12-08")
    maria = call(context(calendar), "slots", service="manicure", date="2026-12-08", master="maria")

    # Then each master's free starts come as ranges one step apart, within their shifts
    assert anyone["ok"] is True and anyone["date"] == "2026-12-08" and anyone["step_min"] == 15
    assert anyone["free"]["anna"] == ["10:00-13:00", "15:00-19:00"]
    assert maria["free"] == {"maria": ["12:00-15:00", "17:00-20:00"]}
    assert "earliest" not in anyone  # there are free times that day


def test_slots_without_a_date_are_the_earliest_free_times(calendar: Calendar) -> None:
    # When the model asks for manicure times without a day
    result = call(context(calendar), "slots", service="manicure")

    # Then the first five free starts come, from opening today (an hour's notice is kept)
    assert result == {
        "ok": True,
        "earliest": [
            "2026-12-07 10:00 anna",
            "2026-12-07 10:15 anna",
            "2026-12-07 10:30 anna",
            "2026-12-07 10:45 anna",
            "2026-12-07 11:00 anna",
        ],
    }


def test_a_day_without_free_times_says_when_the_earliest_are(calendar: Calendar) -> None:
    # When the model asks for brows on Monday, when neither Maria nor Dmitry works
    result = call(context(calendar), "slots", service="brows", date="2026-12-07")

    # Then the day is empty and the next free times come with it, saving a model call
    assert result["free"] == {}
    assert result["earliest"] == [
        "2026-12-08 10:00 dmitry",
        "2026-12-08 10:15 dmitry",
        "2026-12-08 10:30 dmitry",
    ]


def test_a_taken_time_is_not_free_for_the_service_and_its_buffer(calendar: Calendar) -> None:
    # Given Boris has Anna at 12:00 on Monday
    assert call(context(calendar, BORIS), "book", service="manicure", start="2026-12-07 12:00")[
        "ok"
    ]

    # When Alice asks for Monday's times with Anna
    result = call(context(calendar), "slots", service="manicure", date="2026-12-07", master="anna")

    # Then nothing overlapping 12:00-13:10 is offered
    assert result["free"] == {"anna": ["10:00-10:45", "15:00-19:00"]}


def test_an_unknown_service_or_master_is_an_error_the_model_can_correct(
    calendar: Calendar,
) -> None:
    ctx = context(calendar)
    assert call(ctx, "slots", service="nails")["error"] == "unknown_service"
    unknown_master = call(ctx, "slots", service="manicure", date="2026-12-08", master="zoe")
    assert unknown_master["ok"] is False and unknown_master["error"] == "unknown_master"


# -- booking ------------------------------------------------------------------------------


def test_book_makes_the_booking_and_tells_the_model_what_was_booked(
    calendar: Calendar,
) -> None:
    # Given Alice's turn
    ctx = context(calendar, message_id="wamid.1", client_name="Алиса")

    # When the model books a manicure on Tuesday at 12:00 with anyone
    result = call(ctx, "book", service="manicure", start="2026-12-08 12:00")

    # Then the first free master in salon order got it, and the model reads the booking
    assert result["ok"] is True
    booked = result["booked"]
    assert booked == {
        "code": booked["code"],
        "service": "Маникюр",
        "master": "Анна",
        "start": "2026-12-08 12:00",
        "end": "13:00",
        "price": "1500 RUB",
    }
    # and the turn knows it booked, and the calendar holds it, for Alice
    assert [b.code for b in ctx.booked] == [booked["code"]]
    assert ctx.changed_bookings and ctx.known_codes() == {booked["code"]}
    [live] = calendar.live()
    assert (live.code, live.phone, live.starts_at) == (booked["code"], ALICE, at(8, 12))


def test_book_is_idempotent_per_inbound_message_and_numbered_within_it(
    calendar: Calendar,
) -> None:
    # Given a message that books two services
    first = context(calendar, message_id="wamid.1")
    manicure = call(first, "book", service="manicure", start="2026-12-08 12:00")
    brows = call(first, "book", service="brows", start="2026-12-08 14:00")
    assert manicure["booked"]["code"] != brows["booked"]["code"]

    # When the same message is processed again (a retried delivery)
    again = context(calendar, message_id="wamid.1")
    replayed = call(again, "book", service="manicure", start="2026-12-08 12:00")

    # Then it is the same booking, not a second one
    assert replayed["booked"]["code"] == manicure["booked"]["code"]
    assert len(calendar.live()) == 2


def test_a_taken_time_is_refused_with_the_nearest_free_times_that_day(
    calendar: Calendar,
) -> None:
    # Given Boris has Anna at 12:00 on Monday
    call(context(calendar, BORIS), "book", service="manicure", start="2026-12-07 12:00")
    ctx = context(calendar)

    # When the model tries to book Alice there too
    result = call(ctx, "book", service="manicure", start="2026-12-07 12:00", master="anna")

    # Then nothing is booked and the model gets the free times nearest 12:00, in order
    assert result["ok"] is False and result["error"] == "slot_taken"
    assert result["booked"] is False
    assert result["alternatives"] == [
        "2026-12-07 10:15 anna",
        "2026-12-07 10:30 anna",
        "2026-12-07 10:45 anna",
    ]
    assert ctx.booked == [] and not ctx.changed_bookings
    assert len(calendar.live()) == 1


def test_a_time_outside_working_hours_is_refused_with_other_times(calendar: Calendar) -> None:
    ctx = context(calendar)

    # When the model books Anna late on Monday, and on Sunday, when she does not work
    late = call(ctx, "book", service="manicure", start="2026-12-07 23:00", master="anna")
    sunday = call(ctx, "book", service="manicure", start="2026-12-13 12:00", master="anna")

    # Then both are refused: the late one with that evening's last times, Sunday with
    # Anna's earliest
    assert late["error"] == "slot_unavailable" and late["booked"] is False
    assert late["alternatives"] == [
        "2026-12-07 18:30 anna",
        "2026-12-07 18:45 anna",
        "2026-12-07 19:00 anna",
    ]
    assert sunday["error"] == "slot_unavailable"
    assert sunday["alternatives"] == [
        "2026-12-07 10:00 anna",
        "2026-12-07 10:15 anna",
        "2026-12-07 10:30 anna",
    ]
    assert calendar.live() == []


def test_a_start_is_salon_local_unless_it_names_an_offset(calendar: Calendar) -> None:
    ctx = context(calendar)
    utc = call(ctx, "book", service="manicure", start="2026-12-08T09:00:00+00:00")
    assert utc["booked"]["start"] == "2026-12-08 12:00"  # 09:00 UTC is 12:00 in Moscow
    # (another customer: Alice is busy then, and one customer's bookings never overlap)
    local = call(context(calendar, BORIS), "book", service="brows", start="2026-12-08T12:00")
    assert local["booked"]["start"] == "2026-12-08 12:00"


def test_a_time_too_soon_is_refused(calendar: Calendar) -> None:
    result = call(context(calendar), "book", service="manicure", start="2026-12-07 09:30")
    assert result["error"] == "slot_unavailable" and result["booked"] is False
    assert calendar.live() == []


# -- one customer, one message ------------------------------------------------------------


def test_book_every_free_slot_on_friday_books_one(calendar: Calendar) -> None:
    # Given Alice writes "book me every free manicure on Tuesday"
    ctx = context(calendar, message_id="wamid.greedy")

    # When the model calls `book` for nine separate times that day, in one turn
    starts = ["10:00", "11:15", "12:30", "15:00", "16:15", "17:30", "18:45", "13:00", "19:00"]
    results = [call(ctx, "book", service="manicure", start=f"2026-12-08 {t}") for t in starts]

    # Then the first is booked and each other one is refused, telling the model to ask
    assert results[0]["ok"] is True
    for refused in results[1:]:
        assert refused["ok"] is False and refused["error"] == "one_per_message"
        assert refused["booked"] is False
        assert refused["message"] == (
            f"this message already booked manicure ({results[0]['booked']['code']}); one "
            "booking per service per message: ask the customer to confirm the next one in "
            "their next message"
        )
    assert [b.starts_at for b in calendar.live()] == [at(8, 10)]


def test_two_services_in_one_message_are_two_bookings(calendar: Calendar) -> None:
    # When Alice asks for "a manicure and then a pedicure" on Monday
    ctx = context(calendar, message_id="wamid.visit")
    manicure = call(ctx, "book", service="manicure", start="2026-12-07 12:00")
    pedicure = call(ctx, "book", service="pedicure", start="2026-12-07 15:00")

    # Then both are booked
    assert manicure["ok"] is True and pedicure["ok"] is True
    assert sorted(b.service_code for b in calendar.live()) == ["manicure", "pedicure"]


def test_many_services_in_one_message_stop_at_the_salons_limit(calendar: Calendar) -> None:
    # When the model books every service for Alice on Tuesday, an hour and a half apart
    ctx = context(calendar, message_id="wamid.all")
    wanted = [
        ("manicure", "10:00"), ("haircut_men", "11:30"), ("brows", "13:00"),
        ("haircut_women", "14:30"), ("pedicure", "16:00"),
    ]  # fmt: skip
    results = [call(ctx, "book", service=s, start=f"2026-12-08 {t}") for s, t in wanted]

    # Then three are booked (the salon's limit) and the model learns why the rest are not,
    # with her bookings, so it can offer to move or cancel one
    assert [r["ok"] for r in results] == [True, True, True, False, False]
    limit = results[3]
    assert limit["error"] == "booking_limit" and limit["booked"] is False
    assert limit["limit"] == 3
    assert limit["message"].startswith("the customer already has 3 upcoming booking(s)")
    assert limit["message"].endswith("offer to move or cancel one of these instead")
    assert [b["code"] for b in limit["bookings"]] == [r["booked"]["code"] for r in results[:3]]
    assert len(calendar.live()) == 3


def test_identical_calls_in_one_turn_or_in_two_messages_book_once(calendar: Calendar) -> None:
    # When the model calls the same `book` twice in one turn
    ctx = context(calendar, message_id="wamid.1")
    first = call(ctx, "book", service="manicure", start="2026-12-08 12:00")
    twin = call(ctx, "book", service="manicure", start="2026-12-08 12:00")
    # and Alice sends the same request again in a second message, when maria is free too
    again = call(context(calendar, message_id="wamid.2"), "book", service="manicure",
                 start="2026-12-08 12:00")  # fmt: skip

    # Then one booking exists: the twin is refused for this message, the second message
    # because she already has that booking then
    assert first["ok"] is True and twin["error"] == "one_per_message"
    assert again["ok"] is False and again["error"] == "client_busy"
    assert first["booked"]["code"] in again["message"]
    assert len(calendar.live()) == 1


def test_a_time_overlapping_the_customers_own_booking_offers_times_clear_of_it(
    calendar: Calendar, alices_booking: str
) -> None:
    # Given Alice has anna on Tuesday 12:00-13:00
    # When the model books her with maria at 12:30 in another message
    result = call(context(calendar), "book", service="manicure", start="2026-12-08 12:30",
                  master="maria")  # fmt: skip

    # Then she is told she is busy then, with maria's nearest times after her booking
    assert result["ok"] is False and result["error"] == "client_busy" and result["booked"] is False
    assert alices_booking in result["message"]
    assert result["alternatives"] == [
        "2026-12-08 13:00 maria",
        "2026-12-08 13:15 maria",
        "2026-12-08 13:30 maria",
    ]


def test_a_refused_booking_does_not_count_for_the_message(calendar: Calendar) -> None:
    # Given Boris has anna on Monday at 12:00
    call(context(calendar, BORIS), "book", service="manicure", start="2026-12-07 12:00")
    ctx = context(calendar)

    # When the model tries that time for Alice, then the free one it was offered
    taken = call(ctx, "book", service="manicure", start="2026-12-07 12:00", master="anna")
    start, master = taken["alternatives"][0].rsplit(" ", 1)
    offered = call(ctx, "book", service="manicure", start=start, master=master)

    # Then the second one is booked
    assert taken["error"] == "slot_taken" and offered["ok"] is True


def test_one_move_and_one_cancel_per_message(calendar: Calendar) -> None:
    # Given Alice has two manicures, Monday and Tuesday at 12:00
    monday = call(context(calendar), "book", service="manicure", start="2026-12-07 12:00")
    tuesday = call(context(calendar), "book", service="manicure", start="2026-12-08 12:00")
    monday_code, tuesday_code = monday["booked"]["code"], tuesday["booked"]["code"]

    # When one message moves both, aiming Monday's twice
    ctx = context(calendar)
    moved = call(ctx, "move", code=monday_code, start="2026-12-07 15:00")
    reaimed = call(ctx, "move", code=monday_code.lower(), start="2026-12-07 16:00")
    other = call(ctx, "move", code=tuesday_code, start="2026-12-08 15:00")

    # Then Monday's moved (twice: the same change aimed again) and Tuesday's did not
    assert moved["ok"] is True and reaimed["ok"] is True
    assert other["ok"] is False and other["error"] == "one_per_message"
    assert other["moved"] is False
    assert other["message"] == (
        f"this message already moved booking {monday_code}; one per message: ask the "
        "customer to confirm the next one in their next message"
    )
    assert calendar.desk(ALICE, NOW).find(tuesday_code).starts_at == at(8, 12)

    # When another message cancels both
    ctx = context(calendar)
    cancelled = call(ctx, "cancel", code=monday_code)
    second = call(ctx, "cancel", code=tuesday_code)

    # Then only the first is cancelled
    assert cancelled["ok"] is True
    assert second["error"] == "one_per_message" and second["cancelled"] is False
    assert [b.code for b in calendar.live()] == [tuesday_code]


def test_a_move_onto_the_customers_other_booking_is_client_busy(
    calendar: Calendar, alices_booking: str
) -> None:
    # Given Alice also has a manicure on Monday at 12:00
    monday = call(context(calendar), "book", service="manicure", start="2026-12-07 12:00")

    # When the model moves Monday's onto Tuesday 12:30 with maria
    result = call(context(calendar), "move", code=monday["booked"]["code"],
                  start="2026-12-08 12:30", master="maria")  # fmt: skip

    # Then it is refused naming Tuesday's booking, offering maria's times clear of it
    assert result["ok"] is False and result["error"] == "client_busy"
    assert alices_booking in result["message"] and result["moved"] is False
    assert result["alternatives"][0] == "2026-12-08 13:00 maria"


# -- moving and cancelling ----------------------------------------------------------------


@pytest.fixture
def alices_booking(calendar: Calendar) -> str:
    """Alice's manicure with Anna on Tuesday at 12:00; its code."""
    result = call(context(calendar), "book", service="manicure", start="2026-12-08 12:00")
    return str(result["booked"]["code"])


def test_move_keeps_the_master_and_tells_the_model_the_new_time(
    calendar: Calendar, alices_booking: str
) -> None:
    ctx = context(calendar)

    # When the model moves Alice's booking (the code as the customer typed it) to 12:30
    result = call(ctx, "move", code=alices_booking.lower(), start="2026-12-08 12:30")

    # Then it moved (its own old time did not block it), with Anna still
    assert result["ok"] is True
    assert result["moved"]["code"] == alices_booking
    assert (result["moved"]["start"], result["moved"]["master"]) == ("2026-12-08 12:30", "Анна")
    assert [b.code for b in ctx.moved] == [alices_booking] and ctx.booked == []
    [live] = calendar.live()
    assert live.starts_at == at(8, 12, 30)


def test_move_to_a_time_the_master_has_taken_goes_to_another_master(
    calendar: Calendar, alices_booking: str
) -> None:
    # Given Boris has Anna at 15:00 on Tuesday
    call(context(calendar, BORIS), "book", service="manicure", start="2026-12-08 15:00")

    # When Alice's booking moves to 15:00 with no master named
    result = call(context(calendar), "move", code=alices_booking, start="2026-12-08 15:00")

    # Then Maria, free then, takes it
    assert result["moved"]["master"] == "Мария"


def test_a_refused_move_leaves_the_booking_and_offers_times_for_its_service(
    calendar: Calendar, alices_booking: str
) -> None:
    # Given Boris has Anna at 15:00 on Tuesday
    call(context(calendar, BORIS), "book", service="manicure", start="2026-12-08 15:00")
    ctx = context(calendar)

    # When the model moves Alice's booking to Anna at 15:00
    result = call(ctx, "move", code=alices_booking, start="2026-12-08 15:00", master="anna")

    # Then it is refused with Anna's free manicure times nearest 15:00 (after Boris's
    # booking and its buffer), and nothing moved
    assert result["ok"] is False and result["error"] == "slot_taken"
    assert result["moved"] is False
    assert result["alternatives"] == [
        "2026-12-08 16:15 anna",
        "2026-12-08 16:30 anna",
        "2026-12-08 16:45 anna",
    ]
    assert ctx.moved == []
    assert calendar.desk(ALICE, NOW).find(alices_booking).starts_at == at(8, 12)


def test_cancel_cancels_once(calendar: Calendar, alices_booking: str) -> None:
    ctx = context(calendar)

    # When the model cancels Alice's booking, then tries again
    result = call(ctx, "cancel", code=alices_booking)
    again = call(ctx, "cancel", code=alices_booking)

    # Then the first cancels it and the second finds no live booking
    assert result["ok"] is True and result["cancelled"]["code"] == alices_booking
    assert [b.code for b in ctx.cancelled] == [alices_booking] and ctx.changed_bookings
    assert again["ok"] is False and again["error"] == "booking_not_found"
    assert calendar.live() == []


def test_another_customers_booking_cannot_be_moved_or_cancelled(
    calendar: Calendar, alices_booking: str
) -> None:
    boris = context(calendar, BORIS)
    moved = call(boris, "move", code=alices_booking, start="2026-12-08 15:00")
    cancelled = call(boris, "cancel", code=alices_booking)
    assert moved["error"] == "booking_not_found" and cancelled["error"] == "booking_not_found"
    assert call(boris, "my_bookings") == {"ok": True, "bookings": []}
    assert [b.starts_at for b in calendar.live()] == [at(8, 12)]
    assert not boris.changed_bookings


def test_my_bookings_lists_the_customers_upcoming_bookings_by_start(
    calendar: Calendar, alices_booking: str
) -> None:
    # Given Alice also has an earlier booking, and Boris one of his own
    ctx = context(calendar)
    earlier = call(ctx, "book", service="brows", start="2026-12-08 10:00")["booked"]
    call(context(calendar, BORIS), "book", service="pedicure", start="2026-12-07 15:00")

    # When the model asks for Alice's bookings
    result = call(ctx, "my_bookings")

    # Then only hers come, earliest first, as the model reads a booking
    assert result["ok"] is True
    assert [b["code"] for b in result["bookings"]] == [earlier["code"], alices_booking]
    assert result["bookings"][0] == earlier


# -- hand-off -----------------------------------------------------------------------------


def test_handoff_marks_the_turn_for_staff_with_the_reason(calendar: Calendar) -> None:
    ctx = context(calendar)
    assert call(ctx, "handoff", reason="wants a discount") == {"ok": True, "handed_off": True}
    assert ctx.handoff is True and ctx.handoff_reason == "wants a discount"
    assert not ctx.changed_bookings


# -- malformed calls ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "error", "says"),
    [
        ("book", '{"service": "manicure"}', "invalid_arguments", "start: Field required"),
        ("book", '{"service": "manicure", "start": "tomorrow"}', "invalid_arguments",
         "start: Value error, must be 'YYYY-MM-DD HH:MM'"),
        ("book", '{"service": "manicure", "start": "2030-01-07 10:00"}', "invalid_arguments",
         "start: Value error, must be within 2 years of 2026-12-07"),
        ("book", '{"service": " ", "start": "2026-12-08 12:00"}', "invalid_arguments",
         "service: String should have at least 1 character"),
        ("book", '{"service": "manicure", "start": "2026-12-08 12:00", "phone": "+7900"}',
         "invalid_arguments", "phone: not an argument (salon and customer come from the chat)"),
        ("slots", '{"service": "manicure", "salon_id": "x"}', "invalid_arguments",
         "salon_id: not an argument"),
        ("slots", '{"service": "manicure", "date": "Tuesday"}', "invalid_arguments", "date:"),
        ("cancel", "{}", "invalid_arguments", "code: Field required"),
        ("cancel", '{"code": "' + "X" * 41 + '"}', "invalid_arguments", "code: String should"),
        ("services", '{"code": "X"}', "invalid_arguments", "code: not an argument"),
        ("services", "not json", "invalid_arguments", "arguments are not valid JSON"),
        ("services", "[1]", "invalid_arguments", "arguments must be a JSON object"),
        ("delete_all", "{}", "unknown_tool", "no tool 'delete_all'; tools: services, slots,"),
    ],
)  # fmt: skip
def test_a_malformed_call_is_an_error_result_and_changes_nothing(
    calendar: Calendar, name: str, raw: str, error: str, says: str
) -> None:
    # Given a customer with a booking
    ctx = context(calendar)
    call(ctx, "book", service="manicure", start="2026-12-08 12:00")
    before = list(calendar.live())

    # When the model makes a malformed call
    result = run_tool(ctx, name, raw)

    # Then it is told what was wrong, the calendar is as it was, and the call is recorded
    assert result["ok"] is False and result["error"] == error
    assert says in result["message"]
    assert calendar.live() == before
    assert ctx.calls[-1] == {"name": name, "arguments": raw, "result": result}


def test_no_arguments_at_all_is_an_empty_object(calendar: Calendar) -> None:
    ctx = context(calendar)
    assert run_tool(ctx, "my_bookings", None) == {"ok": True, "bookings": []}
    assert run_tool(ctx, "services", "")["ok"] is True
