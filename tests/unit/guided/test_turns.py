"""Everything around a booking in the guided dialogue: a state that resumes in a new
container or expires, hand-off, media, gibberish, questions about the salon, the menu's
taps, and which language each answer is in."""

from __future__ import annotations

import datetime as dt

import pytest

from salonbot.assistant.guided import GuidedFlow, GuidedMessage
from salonbot.assistant.guided import replies as r
from salonbot.assistant.parsing import ADDRESS, HOURS, PRICES
from tests.unit.guided.chat import STATE_TTL, TUESDAY, Chat, at


def test_a_saved_state_resumes_in_a_new_container() -> None:
    chat = Chat()
    chat.say("Хочу на маникюр к Анне завтра в 15:00")

    chat.flow = GuidedFlow(state_ttl=STATE_TTL)  # another container: only the saved state
    chat.now += dt.timedelta(minutes=10)
    chat.say("1")

    (booking,) = chat.bookings()
    assert booking.starts_at == at(TUESDAY, "15:00")
    assert chat.text.endswith(f"Код записи: {booking.code}.")


def test_an_answer_to_an_expired_question_starts_again() -> None:
    chat = Chat()
    chat.say("Хочу на педикюр завтра в 11:00")
    assert chat.titles()[0] == "Подтвердить"

    chat.now += STATE_TTL + dt.timedelta(minutes=1)
    chat.tap("Подтвердить")

    assert chat.bookings() == []
    assert chat.replies == [r.Notice("expired"), r.MainMenu()]
    assert chat.messages[0].body == "Прошлый выбор устарел, давайте начнём заново."
    assert chat.titles()[0] == "Записаться"


@pytest.mark.parametrize("tap", ["menu:book", "svc:manicure"])
def test_a_menu_or_service_tap_under_an_expired_question_still_works(tap: str) -> None:
    chat = Chat()
    chat.say("маникюр")
    chat.now += STATE_TTL + dt.timedelta(minutes=1)

    chat.tap_id(tap)

    assert r.Notice("expired") not in chat.replies
    assert isinstance(chat.question, r.ChooseService | r.ChooseMaster)


def test_free_text_after_the_ttl_is_read_as_a_new_message() -> None:
    chat = Chat()
    chat.say("маникюр")
    chat.now += STATE_TTL + dt.timedelta(minutes=1)

    chat.say("Хочу на маникюр к Анне завтра в 15:00")

    assert isinstance(chat.question, r.ConfirmSlot)
    assert r.Notice("expired") not in chat.replies


@pytest.mark.parametrize("tap", ["ok:2030-01-08T15:00:00+03:00|anna", "time:bad", "mst:anna"])
def test_a_tap_the_state_has_no_question_for_is_expired(tap: str) -> None:
    chat = Chat()

    chat.tap_id(tap)

    assert chat.replies == [r.Notice("expired"), r.MainMenu()]
    assert chat.bookings() == []


def test_a_tap_that_is_not_ours_is_read_by_its_text() -> None:
    chat = Chat()

    chat.send(GuidedMessage(text="Мои записи", tapped="REMINDER_PAYLOAD"))

    assert chat.replies == [r.Notice("no_bookings"), r.MainMenu()]


@pytest.mark.parametrize(
    ("text", "language"),
    [("Позовите администратора", "ru"), ("Can I talk to a real person?", "en")],
)
def test_asking_for_a_person_hands_off(text: str, language: str) -> None:
    chat = Chat()
    chat.say("маникюр")

    chat.say(text)

    result = chat.last.result
    assert result.handoff and result.language == language
    assert chat.replies == [r.Notice("handoff")]
    assert "step" not in chat.saved


def test_the_menus_person_item_hands_off() -> None:
    chat = Chat()

    chat.tap_id("menu:human")

    assert chat.last.result.handoff
    assert chat.text == "Передаю ваш вопрос администратору — вам ответят здесь же."


@pytest.mark.parametrize("kind", ["audio", "voice", "image", "sticker", "location"])
def test_media_without_words_asks_for_text(kind: str) -> None:
    chat = Chat()

    chat.say("", kind=kind)

    assert chat.replies == [r.Notice("media"), r.MainMenu()]
    assert chat.messages[0].body.startswith("Голосовые сообщения и вложения я не понимаю")


def test_a_picture_with_a_caption_is_read_by_its_caption() -> None:
    chat = Chat()

    chat.say("Хочу на маникюр к Анне завтра в 15:00", kind="image")

    assert isinstance(chat.question, r.ConfirmSlot)


@pytest.mark.parametrize(
    ("text", "first_line"),
    [
        ("ывапролдж", "Извините, я не понял(а) сообщение."),
        ("😊👍🏻", "Извините, я не понял(а) сообщение."),
        ("qwzx plorf", "Sorry, I didn't understand that."),
    ],
)
def test_unclear_first_messages_get_help_and_the_menu(text: str, first_line: str) -> None:
    chat = Chat()

    chat.say(text)

    assert chat.replies == [r.Notice("unknown"), r.MainMenu()]
    assert chat.messages[0].body == first_line
    assert len(chat.options) == 5


def test_unclear_input_mid_flow_repeats_the_question() -> None:
    chat = Chat()
    chat.say("маникюр")
    asked = chat.question

    chat.say("🤔")

    assert chat.replies == [r.Notice("unknown_step"), asked]
    assert chat.messages[0].body.startswith("Извините, не понял(а).")


@pytest.mark.parametrize(
    ("text", "reply", "answer"),
    [
        (
            "Сколько стоит маникюр?",
            r.FaqReply((PRICES,), ("manicure",)),
            "Маникюр — 1500 RUB, 60 мин.",
        ),
        (
            "Где вы находитесь?",
            r.FaqReply((ADDRESS,)),
            "Мы находимся по адресу: Москва, Тверская ул., 1.",
        ),
        (
            "How much is a pedicure?",
            r.FaqReply((PRICES,), ("pedicure",)),
            "Pedicure: 2800 RUB, 90 min.",
        ),
    ],
)
def test_questions_about_the_salon_are_answered_from_its_data(
    text: str, reply: r.FaqReply, answer: str
) -> None:
    chat = Chat()

    chat.say(text)

    assert chat.replies == [reply]
    assert chat.text == answer
    assert chat.last.result.engine == "faq"


def test_opening_hours_come_from_the_masters_shifts() -> None:
    chat = Chat()

    chat.say("What are your opening hours?")

    assert chat.replies == [r.FaqReply((HOURS,))]
    assert chat.text.splitlines()[:2] == ["Opening hours:", "Mon: 09:00–20:00"]


def test_a_question_mid_booking_keeps_the_booking_open() -> None:
    chat = Chat()
    chat.say("маникюр")
    options = chat.saved["options"]

    chat.say("А сколько стоит педикюр?")
    assert chat.saved["options"] == options

    chat.say("2")  # still answers the masters question
    question = chat.question
    assert isinstance(question, r.ChooseDay) and question.master is not None


@pytest.mark.parametrize(
    ("tap", "reply"),
    [("menu:prices", r.FaqReply((PRICES,))), ("menu:address", r.FaqReply((ADDRESS, HOURS)))],
)
def test_the_menus_salon_items_answer_from_its_data(tap: str, reply: r.FaqReply) -> None:
    chat = Chat()

    chat.tap_id(tap)

    assert chat.replies == [reply]
    assert chat.last.result.engine == "guided"  # a tap in the flow, not a question


def test_thanks_and_greetings() -> None:
    chat = Chat()
    chat.say("маникюр")

    chat.say("спасибо")
    assert chat.replies == [r.Notice("thanks")]
    assert chat.saved["step"] == "master"  # the question stays open

    chat.say("Привет")
    assert chat.replies == [r.Greeting(), r.MainMenu()]
    assert chat.saved["step"] == "menu"


def test_the_menu_word_starts_over() -> None:
    chat = Chat()
    chat.say("маникюр к Анне завтра")

    chat.say("меню")

    assert chat.replies == [r.MainMenu()]
    assert "service" not in chat.saved


def test_taps_and_digits_keep_the_language_the_customer_writes_in() -> None:
    chat = Chat()
    chat.say("Hi, I'd like a manicure with Anna tomorrow")
    assert chat.text.startswith("Manicure, master Anna, tomorrow")

    chat.say("10:00")
    assert chat.last.result.language == "en"
    assert chat.text.startswith("Please check:")
    chat.tap("Confirm")
    assert chat.text.startswith("Done!")

    chat.say("Мои записи")
    assert chat.last.result.language == "ru"


def test_a_conversation_in_english_answers_a_first_digit_in_english() -> None:
    chat = Chat(language="en")

    chat.say("10:00")

    assert chat.last.result.language == "en"
    assert chat.text == "Which service?"


def test_every_reply_of_a_turn_is_rendered_in_order() -> None:
    chat = Chat()
    chat.desk().book("manicure", at(TUESDAY, "15:00"), "anna")

    chat.say("Хочу на маникюр к Анне завтра в 15:00")  # taken: said so, then other times

    assert len(chat.messages) == len(chat.replies) == 2
    assert [m.type for m in chat.messages] == ["text", "list"]


def test_unclear_input_after_a_list_of_bookings_gets_the_menu() -> None:
    chat = Chat()
    chat.desk().book("manicure", at(TUESDAY, "15:00"), "anna")
    chat.say("мои записи")

    chat.say("🤔")

    assert chat.replies == [r.Notice("unknown_step"), r.MainMenu()]
