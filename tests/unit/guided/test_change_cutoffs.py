"""The salon's change cut-offs in the guided dialogue: inside them the customer is passed
to staff instead of cancelling or moving the visit; outside them nothing changes."""

from __future__ import annotations

import dataclasses
import datetime as dt

from salonbot.assistant.guided import replies as r
from tests.fakes.memory_desk import Calendar
from tests.unit.guided.chat import NOW, SALON, TUESDAY, Chat, at

# A cut-off of a day: Tuesday 12:00 is 27 hours away at NOW, Monday 18:00 only nine.
STRICT = dataclasses.replace(SALON, cancel_notice_minutes=24 * 60, move_notice_minutes=24 * 60)


def test_inside_the_cut_off_the_customer_is_passed_to_staff_and_the_visit_stays() -> None:
    chat = Chat(calendar=Calendar(STRICT))
    soon = chat.desk().book("manicure", at(NOW.date(), "18:00"), "anna")

    chat.say("Хочу отменить запись")

    assert chat.replies == [r.Notice("change_cutoff")]
    assert chat.answer is not None and chat.answer.result.handoff
    assert "администратору" in chat.messages[0].body
    assert [b.code for b in chat.desk().upcoming()] == [soon.code]

    chat.say("перенести запись")
    assert chat.replies == [r.Notice("change_cutoff")]


def test_outside_the_cut_off_cancelling_works_as_before() -> None:
    chat = Chat(calendar=Calendar(STRICT))
    chat.desk().book("manicure", at(TUESDAY, "12:00"), "anna")

    chat.say("Хочу отменить запись")
    chat.tap("Да, отменить")

    assert chat.desk().upcoming() == []
    assert chat.now + dt.timedelta(days=1) < at(TUESDAY, "12:00")
