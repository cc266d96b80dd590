"""Several services in one message through the guided dialogue: "маникюр и педикюр в
субботу" is one visit, booked back to back, shown and confirmed as one."""

from __future__ import annotations

from salonbot.assistant.guided import replies as r
from salonbot.assistant.parsing import match_visit
from tests.unit.guided.chat import SALON, Chat


def test_two_services_and_a_day_in_one_message_book_one_visit() -> None:
    chat = Chat()

    # When the customer asks for a manicure and a pedicure on Saturday (Anna does both,
    # Maria only manicures)
    chat.say("Хочу маникюр и педикюр в субботу")

    # Then the times offered are those of the whole visit, with a master for each item
    question = chat.question
    assert isinstance(question, r.ChooseTime)
    assert question.service.code == "manicure+pedicure"
    assert "Маникюр + Педикюр" in chat.text
    first = question.slots[0]
    assert [i.service_code for i in first.items] == ["manicure", "pedicure"]
    assert first.items[1].starts_at == first.items[0].ends_at

    # When a time is tapped and confirmed
    chat.tap(f"{first.starts_at:%H:%M}")
    assert isinstance(chat.question, r.ConfirmSlot)
    chat.tap("Подтвердить")

    # Then one visit holds both services back to back
    [visit] = chat.calendar.live()
    assert [(i.service_code, i.starts_at) for i in visit.items] == [
        ("manicure", first.starts_at),
        ("pedicure", first.items[1].starts_at),
    ]
    assert "Маникюр + Педикюр" in chat.messages[0].body


def test_the_visit_words_are_read_in_order_in_both_languages() -> None:
    assert match_visit("маникюр и педикюр в субботу", SALON) == ("manicure", "pedicure")
    assert match_visit("pedicure and manicure tomorrow", SALON) == ("pedicure", "manicure")
    assert match_visit("маникюр + педикюр", SALON) == ("manicure", "pedicure")
    assert match_visit("маникюр в субботу", SALON) == ()
    assert match_visit("маникюр и маникюр", SALON) == ()


def test_moving_a_visit_moves_every_item() -> None:
    from tests.unit.guided.chat import TUESDAY, WEDNESDAY, at

    chat = Chat()
    visit = chat.desk().book(["manicure", "pedicure"], at(TUESDAY, "10:00"), "anna")

    chat.say("Хочу перенести запись")
    question = chat.question
    assert isinstance(question, r.ChooseDay)
    assert question.service.code == "manicure+pedicure"
    chat.tap_id(f"day:{WEDNESDAY.isoformat()}")
    slot = chat.question.slots[0]  # type: ignore[attr-defined]
    chat.tap(f"{slot.starts_at:%H:%M}")
    chat.tap("Подтвердить")

    [moved] = chat.calendar.live()
    assert moved.code == visit.code
    assert [(i.service_code, i.starts_at.date()) for i in moved.items] == [
        ("manicure", WEDNESDAY),
        ("pedicure", WEDNESDAY),
    ]
    assert moved.items[1].starts_at == moved.items[0].ends_at
