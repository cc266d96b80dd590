"""The customer's own bookings through the guided dialogue: listed, cancelled after a
confirmation, moved by taps or by one message; another customer's code is never found."""

from __future__ import annotations

import datetime as dt

import pytest

from salonbot.assistant.guided import replies as r
from salonbot.booking.store import Booking
from tests.unit.guided.chat import (
    FRIDAY,
    MONDAY,
    OTHER_CUSTOMER,
    TUESDAY,
    Chat,
    at,
)


def book(chat: Chat, day: dt.date, time: str, *, phone: str | None = None) -> Booking:
    return chat.desk(phone).book("manicure", at(day, time), "anna")


def test_my_bookings_lists_the_upcoming_ones_with_what_can_be_done() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    book(chat, TUESDAY, "15:00", phone=OTHER_CUSTOMER)

    chat.say("Мои записи")

    assert chat.question == r.YourBookings((booking,))
    # Each booking is shown once: as its row, not also as a line of the text
    assert chat.text == "Ваши записи:"
    assert (chat.options[0].title, chat.options[0].description) == (
        "08.01 12:00",
        f"Маникюр, Анна, {booking.code}",
    )
    chat.tap("08.01 12:00")
    assert chat.titles() == ["Перенести", "Отменить запись", "Меню"]
    chat.tap("Меню")
    assert chat.question == r.MainMenu()


def test_no_bookings_gets_the_menu() -> None:
    chat = Chat()

    chat.tap_id("menu:mine")

    assert chat.replies == [r.Notice("no_bookings"), r.MainMenu()]
    assert chat.messages[0].body == "У вас нет предстоящих записей."


@pytest.mark.parametrize(
    ("ask", "yes", "done"),
    [
        ("Хочу отменить запись", "Да, отменить", "Запись отменена: 08.01 12:00 — Маникюр"),
        ("cancel my booking", "Yes", "Cancelled: 08.01 12:00 — Manicure"),
    ],
    ids=["ru", "en"],
)
def test_a_customer_cancels_after_a_confirmation(ask: str, yes: str, done: str) -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")

    chat.say(ask)
    assert chat.question == r.AskToCancel(booking)
    assert booking.code in chat.text
    assert chat.bookings() == [booking]  # not before the confirmation

    chat.tap(yes)

    assert chat.bookings() == []
    assert chat.text.startswith(done)
    assert chat.last.result.tool_calls == [
        {
            "name": "cancel",
            "arguments": {"code": booking.code},
            "result": {"ok": True, "code": booking.code},
        }
    ]


def test_a_typed_yes_cancels_and_a_typed_no_keeps_the_booking() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    chat.say("отменить запись")

    chat.say("нет")
    assert chat.bookings() == [booking]
    assert chat.replies == [r.Notice("declined")]

    chat.say("отменить запись")
    chat.say("да")
    assert chat.bookings() == []


def test_a_booking_cancelled_meanwhile_cannot_be_changed() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    chat.say("отменить запись")
    chat.desk().cancel(booking.code)  # the salon's staff, meanwhile

    chat.tap("Да, отменить")

    assert chat.replies == [r.Notice("not_changeable")]
    assert chat.text.startswith("Эту запись уже нельзя изменить.")


def test_several_bookings_ask_which_one() -> None:
    chat = Chat()
    first = book(chat, MONDAY, "12:00")
    second = book(chat, TUESDAY, "12:00")

    chat.say("I need to reschedule")

    assert chat.question == r.WhichBooking("move", (first, second))
    assert chat.text == "Which booking should I move?"
    assert [o.id for o in chat.options] == [f"move:{first.code}", f"move:{second.code}"]


def test_a_code_names_the_booking_and_another_customers_code_is_not_found() -> None:
    chat = Chat()
    mine = book(chat, MONDAY, "12:00")
    book(chat, TUESDAY, "12:00")
    theirs = book(chat, FRIDAY, "12:00", phone=OTHER_CUSTOMER)

    chat.say(f"отменить запись {mine.code}")
    assert chat.question == r.AskToCancel(mine)

    chat.say(f"отменить запись {theirs.code}")
    assert chat.replies[0] == r.BookingUnknown(theirs.code)
    assert chat.messages[0].body == f"Не нашёл(ла) запись с кодом {theirs.code}."
    assert isinstance(chat.question, r.YourBookings)
    assert theirs.code not in chat.text.split("\n", 1)[1]


def test_a_move_by_one_message_counts_the_bookings_own_time_as_free() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")

    chat.say("Можно перенести запись на завтра в 12:30?")

    assert chat.text == "Перенести Маникюр на 08.01 12:30, мастер Анна?"
    assert chat.titles() == ["Подтвердить", "Другое время", "Оставить как есть"]
    chat.tap("Подтвердить")
    (moved,) = chat.bookings()
    assert (moved.code, moved.starts_at) == (booking.code, at(TUESDAY, "12:30"))
    assert chat.text == (
        f"Готово! Запись перенесена: Маникюр, 08.01 12:30, мастер Анна. Код записи: {booking.code}."
    )
    assert chat.last.result.booking_code is None  # a move is not a new booking
    assert chat.last.result.tool_calls[0]["name"] == "move"


def test_an_english_customer_reschedules_by_tapping() -> None:
    chat = Chat()
    keep = book(chat, MONDAY, "12:00")
    book(chat, TUESDAY, "12:00")

    chat.say("I need to reschedule")
    chat.tap("08.01 12:00")
    assert isinstance(chat.question, r.ChooseDay)  # the booking's master, so no master step
    chat.tap("Fri")
    chat.tap("11:00")
    assert chat.text == "Move Manicure to 11.01 11:00, master Anna?"
    chat.tap("Confirm")

    assert [b.starts_at for b in chat.bookings()] == [keep.starts_at, at(FRIDAY, "11:00")]


def test_the_move_menu_of_one_booking_moves_it() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    chat.say("мои записи")
    chat.tap("08.01 12:00")

    chat.tap("Перенести")

    question = chat.question
    assert isinstance(question, r.ChooseDay)
    assert question.master is not None and question.master.code == "anna"
    assert chat.saved["flow"] == "move" and chat.saved["booking"] == booking.code


def test_declining_a_move_keeps_the_booking() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    chat.say("перенести запись на завтра в 16:00")

    chat.tap("Оставить как есть")

    assert chat.bookings() == [booking]
    assert chat.replies == [r.Notice("declined")]


def test_a_started_booking_is_not_offered_for_change() -> None:
    chat = Chat()
    booking = book(chat, MONDAY, "10:00")
    chat.now = at(MONDAY, "09:40")
    chat.say("мои записи")
    chat.now = at(MONDAY, "10:05")  # the visit has begun

    chat.tap("07.01 10:00")

    assert chat.replies[0] == r.BookingUnknown(booking.code)


def test_the_cancel_item_of_one_booking_asks_to_confirm() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    chat.say("мои записи")
    chat.tap("08.01 12:00")

    chat.tap("Отменить запись")

    assert chat.question == r.AskToCancel(booking)
    assert chat.titles() == ["Да, отменить", "Нет, оставить"]


def test_cancelling_without_bookings_says_there_are_none() -> None:
    chat = Chat()

    chat.say("хочу отменить запись")

    assert chat.replies == [r.Notice("no_bookings"), r.MainMenu()]


def test_moving_a_booking_that_is_gone_lists_the_customers_bookings() -> None:
    chat = Chat()

    chat.tap_id("move:A7K2QX")

    assert chat.replies == [r.BookingUnknown("A7K2QX"), r.Notice("no_bookings"), r.MainMenu()]


def test_a_move_to_a_time_taken_meanwhile_offers_that_days_times() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    chat.say("перенести запись на завтра в 16:00")
    book(chat, TUESDAY, "16:00", phone=OTHER_CUSTOMER)

    chat.tap("Подтвердить")

    assert chat.replies[0] == r.Notice("slot_taken")
    assert isinstance(chat.question, r.ChooseTime)
    (call,) = chat.last.result.tool_calls
    assert call["name"] == "move" and call["result"]["ok"] is False
    assert call["arguments"] == {
        "service": "manicure",
        "start": "2030-01-08T16:00:00+03:00",
        "booking": booking.code,
    }
    assert chat.saved["flow"] == "move"  # the move goes on with another time


def test_a_move_of_a_booking_cancelled_meanwhile_cannot_be_changed() -> None:
    chat = Chat()
    booking = book(chat, TUESDAY, "12:00")
    chat.say("перенести запись на завтра в 16:00")
    chat.desk().cancel(booking.code)

    chat.tap("Подтвердить")

    assert chat.replies == [r.Notice("not_changeable")]
    assert "step" not in chat.saved
