"""A reply that quotes our booking confirmation: "отменить" / "cancel" / "перенести" /
"move" is about that booking, with the customer's own rules and the confirm step, even
when they have several bookings."""

from __future__ import annotations

import datetime as dt

from salonbot.assistant.guided import GuidedMessage
from salonbot.assistant.guided import replies as r
from salonbot.booking.store import Booking
from tests.unit.guided.chat import MONDAY, OTHER_CUSTOMER, TUESDAY, WEDNESDAY, Chat, at


def book(chat: Chat, day: dt.date, time: str, *, phone: str | None = None) -> Booking:
    return chat.desk(phone).book("manicure", at(day, time), "anna")


def quoting(chat: Chat, text: str, code: str) -> None:
    chat.send(GuidedMessage(text=text, message_id=chat._id(), quoted_booking=code))


def test_cancel_quoting_a_confirmation_asks_about_that_booking_first() -> None:
    chat = Chat()
    book(chat, MONDAY, "12:00")
    quoted = book(chat, TUESDAY, "12:00")
    book(chat, WEDNESDAY, "12:00")

    quoting(chat, "отменить", quoted.code)

    # No "which booking?": the quoted one, and nothing cancelled before the customer agrees
    assert chat.question == r.AskToCancel(quoted)
    assert len(chat.bookings()) == 3
    chat.tap("Да, отменить")
    assert quoted.code not in {b.code for b in chat.bookings()}
    assert len(chat.bookings()) == 2


def test_move_quoting_a_confirmation_starts_the_move_of_that_booking() -> None:
    chat = Chat(language="en")
    book(chat, MONDAY, "12:00")
    quoted = book(chat, TUESDAY, "12:00")

    quoting(chat, "move", quoted.code)

    assert isinstance(chat.question, r.ChooseDay)
    assert chat.saved["flow"] == "move" and chat.saved["booking"] == quoted.code


def test_a_move_quoting_a_confirmation_takes_the_time_it_names() -> None:
    chat = Chat()
    quoted = book(chat, TUESDAY, "12:00")
    book(chat, WEDNESDAY, "12:00")

    quoting(chat, "перенести на завтра в 12:30", quoted.code)

    assert chat.text == "Перенести Маникюр на 08.01 12:30, мастер Анна?"
    chat.tap("Подтвердить")
    assert at(TUESDAY, "12:30") in {b.starts_at for b in chat.bookings()}


def test_a_quoted_booking_of_someone_else_is_never_found() -> None:
    chat = Chat()
    mine = book(chat, MONDAY, "12:00")
    theirs = book(chat, TUESDAY, "12:00", phone=OTHER_CUSTOMER)

    quoting(chat, "cancel", theirs.code)

    assert chat.replies[0] == r.BookingUnknown(theirs.code)
    assert not any(isinstance(reply, r.AskToCancel) for reply in chat.replies)
    assert chat.desk().upcoming() == [mine]
    assert [b.code for b in chat.desk(OTHER_CUSTOMER).upcoming()] == [theirs.code]


def test_other_words_quoting_a_confirmation_are_read_as_usual() -> None:
    chat = Chat()
    quoted = book(chat, TUESDAY, "12:00")
    book(chat, WEDNESDAY, "12:00")

    quoting(chat, "мои записи", quoted.code)

    assert isinstance(chat.question, r.YourBookings)


def test_a_code_the_customer_types_wins_over_the_quoted_one() -> None:
    chat = Chat()
    quoted = book(chat, TUESDAY, "12:00")
    typed = book(chat, WEDNESDAY, "12:00")

    quoting(chat, f"отменить {typed.code}", quoted.code)

    assert chat.question == r.AskToCancel(typed)


def test_the_code_our_confirmation_shows_is_found_only_when_there_is_one() -> None:
    from salonbot.outbound.quoted import code_in

    assert code_in("Готово! Маникюр, 08.01 15:00, мастер Анна. Код записи: A7K2QX.") == "A7K2QX"
    assert code_in("Your bookings: A7K2QX and B8M3RY") is None
    assert code_in("MANICURE 2030 PLEASE") is None
