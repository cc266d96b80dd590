"""Reply intents into WhatsApp messages: the words come from the phrase table of the
customer's language, days read as a person says them, questions become lists or buttons
within WhatsApp's limits, and the options the state remembers are the ones shown."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing

import pytest

from salonbot.assistant.faq import FaqAnswers
from salonbot.assistant.guided import options as opt
from salonbot.assistant.guided import replies as r
from salonbot.assistant.guided.render import Renderer
from salonbot.texts import phrases
from salonbot.whatsapp.outgoing import ButtonsMessage, ListMessage, TextMessage
from tests.fakes.memory_desk import Calendar
from tests.unit.guided.chat import MONDAY, NOW, SALON, TUESDAY, Chat, at


def renderer(language: str = "ru", *, interactive: bool = True) -> Renderer:
    return Renderer(SALON, language, NOW, FaqAnswers(), interactive=interactive)


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("key", typing.get_args(r.NoticeKey))
def test_every_notice_is_the_phrase_tables_sentence(language: str, key: r.NoticeKey) -> None:
    message = renderer(language).message(r.Notice(key))

    assert message == TextMessage(body=phrases(language)[key])


def test_an_unknown_language_reads_english() -> None:
    assert renderer("de").message(r.Notice("thanks")).body == phrases("en")["thanks"]


@pytest.mark.parametrize(
    ("language", "day", "title"),
    [
        ("ru", MONDAY, "Сегодня, пн 07.01"),
        ("ru", TUESDAY, "Завтра, вт 08.01"),
        ("ru", dt.date(2030, 1, 9), "Ср 09.01"),
        ("en", MONDAY, "Today, Mon 07.01"),
        ("en", TUESDAY, "Tomorrow, Tue 08.01"),
        ("en", dt.date(2030, 1, 13), "Sun 13.01"),
    ],
)
def test_days_read_as_a_person_says_them(language: str, day: dt.date, title: str) -> None:
    assert renderer(language).day_title(day) == title


def test_questions_are_lists_or_buttons_with_the_codecs_ids() -> None:
    service = SALON.services["manicure"]
    slot = opt.SlotRef(at(TUESDAY, "15:00"), "anna")

    rendered = renderer().render(
        [r.Notice("slot_taken"), r.ConfirmSlot(service, slot, SALON.masters["anna"], moving=False)]
    )

    text, confirm = rendered.messages
    assert isinstance(text, TextMessage) and isinstance(confirm, ButtonsMessage)
    assert [o.id for o in confirm.options] == [opt.encode(opt.Confirm(slot)), "otherday:", "no"]
    assert rendered.options == [(o.id, o.title) for o in confirm.options]


def test_statements_alone_leave_the_remembered_options_alone() -> None:
    rendered = renderer().render([r.Notice("thanks")])

    assert rendered.options is None


def test_without_interactive_messages_a_question_asks_for_a_number() -> None:
    (menu,) = renderer("en", interactive=False).render([r.MainMenu()]).messages

    assert isinstance(menu, ListMessage)
    assert menu.body.endswith("\nReply with the option number or its text.")
    assert [o.id for o in menu.options] == [
        "menu:book",
        "menu:mine",
        "menu:prices",
        "menu:address",
        "menu:human",
    ]


def test_the_slot_without_a_known_master_still_confirms() -> None:
    service = SALON.services["manicure"]
    slot = opt.SlotRef(at(TUESDAY, "15:00"), "gone")

    message = renderer().message(r.ConfirmSlot(service, slot, None, moving=True))

    assert message.body == "Перенести Маникюр на 08.01 15:00, мастер —?"


def test_many_bookings_are_all_listed_but_only_ten_can_be_picked() -> None:
    salon = dataclasses.replace(SALON, max_live_bookings_per_client=20)
    chat = Chat(calendar=Calendar(salon))
    desk = chat.desk()
    for day in range(8, 28):
        date = dt.date(2030, 1, day)
        slots = desk.slots_on("brows", date)
        if slots:
            desk.book("brows", slots[0].starts_at)
    bookings = desk.upcoming()
    assert len(bookings) > 10

    chat.say("мои записи")

    (message,) = chat.messages
    assert isinstance(message, ListMessage)
    # Each once: the first ten as rows, the rest as lines of the text
    assert len(message.body.splitlines()) == 1 + len(bookings) - 10
    assert len(message.options) == 10
