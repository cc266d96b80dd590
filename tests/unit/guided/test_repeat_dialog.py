"""Client memory in the guided dialogue: "как в прошлый раз" books the last visit's
services with its master, and the menu offers it as one tap."""

from __future__ import annotations

import datetime as dt

from salonbot.assistant.guided import replies as r
from tests.fakes.memory_desk import Calendar
from tests.unit.guided.chat import NOW, SALON, Chat, at

WEEK_LATER = NOW + dt.timedelta(days=7)


def with_last_visit() -> Calendar:
    # Alice had a manicure with Maria on Tuesday 8 January at 13:00
    calendar = Calendar(SALON)
    chat = Chat(calendar=calendar)
    chat.desk().book("manicure", at(NOW.date() + dt.timedelta(days=1), "13:00"), "maria")
    return calendar


def test_same_as_last_time_asks_for_a_day_with_the_last_master() -> None:
    chat = Chat(calendar=with_last_visit(), now=WEEK_LATER)

    chat.say("Запишите как в прошлый раз")

    question = chat.question
    assert isinstance(question, r.ChooseDay)
    assert (question.service.code, question.master and question.master.code) == (
        "manicure",
        "maria",
    )


def test_the_menu_offers_a_one_tap_repeat_of_the_last_visit() -> None:
    chat = Chat(calendar=with_last_visit(), now=WEEK_LATER)

    chat.say("меню")

    assert chat.titles()[0] == "Как в прошлый раз"
    assert chat.options[0].description == "Маникюр, Мария"
    chat.tap("Как в прошлый раз")
    assert isinstance(chat.question, r.ChooseDay)


def test_without_a_last_visit_it_says_so_and_offers_the_services() -> None:
    chat = Chat()

    chat.say("same as last time")

    assert chat.replies[0] == r.Notice("no_last_visit")
    assert isinstance(chat.question, r.ChooseService)
