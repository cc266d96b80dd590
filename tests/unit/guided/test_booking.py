"""Booking through the guided dialogue, against the in-memory desk: by taps, by numbers,
by typed titles and by one free-text message, in Russian and English, with days and times
paged, and the confirmation as the only thing that books."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from salonbot.assistant.guided import GuidedMessage, GuidedState
from salonbot.assistant.guided import options as opt
from salonbot.assistant.guided import replies as r
from salonbot.assistant.guided.dialogue import step
from tests.fakes.memory_desk import Calendar
from tests.unit.guided.chat import (
    FRIDAY,
    MONDAY,
    OTHER_CUSTOMER,
    SALON,
    TUESDAY,
    WEDNESDAY,
    Chat,
    at,
)


def test_a_russian_customer_taps_through_every_step() -> None:
    chat = Chat()

    chat.say("Здравствуйте")
    assert chat.replies == [r.Greeting(), r.MainMenu()]
    assert chat.text.startswith("Здравствуйте! Это Nail Studio Aurora.")
    assert chat.titles() == [
        "Записаться",
        "Мои записи",
        "Цены",
        "Адрес и часы работы",
        "Администратор",
    ]

    chat.tap("Записаться")
    assert chat.option("Маникюр").description == "1500 RUB, 60 мин"
    assert chat.option("Педикюр").description == "2800 RUB, 90 мин"

    chat.tap("Маникюр")
    assert chat.titles() == ["Любой мастер", "Анна", "Мария"]

    chat.tap("Анна")
    assert chat.titles()[:3] == ["Сегодня, пн 07.01", "Завтра, вт 08.01", "Ср 09.01"]
    assert chat.option("Завтра").description == "свободно: 30"

    chat.tap("Завтра")
    assert chat.text == "Маникюр, мастер Анна, завтра, вт 08.01. Выберите время:"
    assert chat.titles()[:3] == ["10:00", "10:15", "10:30"]
    assert chat.options[0].description is None  # the master was chosen

    chat.tap("10:15")
    assert chat.text == "Проверьте, пожалуйста:\nМаникюр, 08.01 10:15, мастер Анна, 1500 RUB."
    assert chat.titles() == ["Подтвердить", "Другое время", "Отменить"]
    assert chat.bookings() == []  # nothing is booked before the confirmation

    chat.tap("Подтвердить")

    (booking,) = chat.bookings()
    assert (booking.service_code, booking.master_code, booking.starts_at) == (
        "manicure",
        "anna",
        at(TUESDAY, "10:15"),
    )
    assert chat.text == (
        f"Готово! Вы записаны: Маникюр, 08.01 10:15, мастер Анна. Код записи: {booking.code}."
    )
    result = chat.last.result
    assert (result.engine, result.booking_code, result.language) == ("guided", booking.code, "ru")
    assert result.tool_calls == [
        {
            "name": "book",
            "arguments": {"service": "manicure", "start": "2030-01-08T10:15:00+03:00"},
            "result": {"ok": True, "code": booking.code},
        }
    ]
    # the dialogue is over: nothing is left to answer
    assert chat.saved == {"v": 1, "at": "2030-01-07T09:00:00+03:00", "lang": "ru"}


def test_an_english_customer_with_any_master_sees_who_has_each_time() -> None:
    chat = Chat()

    chat.say("Hi, I'd like to book")
    assert chat.text == "Which service?"
    assert chat.option("Manicure").description == "1500 RUB, 60 min"
    chat.tap("Gel polish")
    assert chat.titles() == ["Any master", "Anna", "Maria"]
    chat.tap("Any master")
    chat.tap("Today")
    assert chat.text == "Gel polish manicure, today, Mon 07.01. Pick a time:"
    assert (chat.options[0].title, chat.options[0].description) == ("10:00", "Anna")
    chat.tap("10:00")
    assert chat.titles() == ["Confirm", "Other time", "Cancel"]
    chat.tap("Confirm")

    (booking,) = chat.bookings()
    assert booking.service_code == "manicure_gel"
    assert chat.text == (
        "Done! You are booked: Gel polish manicure, 07.01 10:00, master Anna. "
        f"Booking code: {booking.code}."
    )
    assert chat.last.result.language == "en"


@pytest.mark.parametrize(
    ("text", "language", "done"),
    [
        (
            "Хочу на маникюр к Анне завтра в 15:00",
            "ru",
            "Готово! Вы записаны: Маникюр, 08.01 15:00",
        ),
        (
            "Can I book a manicure with Anna tomorrow at 3pm?",
            "en",
            "Done! You are booked: Manicure",
        ),
    ],
    ids=["ru", "en"],
)
def test_one_message_goes_straight_to_the_confirmation(text: str, language: str, done: str) -> None:
    chat = Chat()

    chat.say(text)

    (question,) = chat.replies
    assert isinstance(question, r.ConfirmSlot)
    assert question.slot == opt.SlotRef(at(TUESDAY, "15:00"), "anna")
    assert not question.moving
    assert chat.last.result.language == language
    assert chat.bookings() == []

    chat.say("да" if language == "ru" else "yes")

    (booking,) = chat.bookings()
    assert (booking.starts_at, booking.master_code) == (at(TUESDAY, "15:00"), "anna")
    assert chat.text.startswith(done)


def test_without_interactive_messages_numbers_and_titles_answer() -> None:
    chat = Chat(interactive=False)

    chat.say("маникюр")
    assert chat.text.endswith("\nОтветьте номером варианта или текстом.")
    assert chat.titles() == ["Любой мастер", "Анна", "Мария"]

    chat.say("2")
    assert isinstance(chat.question, r.ChooseDay)
    assert chat.question.master is not None and chat.question.master.code == "anna"

    chat.say("Завтра, вт 08.01")  # an option's title, typed
    assert isinstance(chat.question, r.ChooseTime) and chat.question.day == TUESDAY
    assert chat.titles()[-1] == "Позже →"

    chat.say("3.")
    assert chat.text.startswith("Проверьте, пожалуйста:\nМаникюр, 08.01 10:30")
    chat.say("1")

    (booking,) = chat.bookings()
    assert booking.starts_at == at(TUESDAY, "10:30")


def test_a_number_beyond_the_options_is_not_a_choice() -> None:
    chat = Chat()
    chat.say("маникюр")

    chat.say("7")

    assert chat.replies[0] == r.Notice("unknown_step")
    assert chat.titles() == ["Любой мастер", "Анна", "Мария"]


def test_times_are_paged_nine_at_a_time_and_the_last_page_offers_another_day() -> None:
    chat = Chat()
    chat.say("маникюр к Анне завтра")
    first = [o.title for o in chat.options]
    assert first[:-1] == [
        "10:00",
        "10:15",
        "10:30",
        "10:45",
        "11:00",
        "11:15",
        "11:30",
        "11:45",
        "12:00",
    ]
    assert first[-1] == "Позже →"

    seen = first[:-1]
    for _ in range(3):
        chat.tap("Позже →")
        seen += [o.title for o in chat.options[:-1]]

    assert len(seen) == len(set(seen)) == 30  # Anna's Tuesday: 13 morning and 17 afternoon
    assert chat.titles()[-1] == "Выбрать другой день"
    chat.tap("Выбрать другой день")
    assert isinstance(chat.question, r.ChooseDay)
    assert chat.question.days[0].day == MONDAY


def test_days_are_paged_and_only_days_with_free_times_are_offered() -> None:
    chat = Chat()
    chat.say("маникюр к Анне")

    question = chat.question
    assert isinstance(question, r.ChooseDay)
    days = [d.day for d in question.days]
    assert len(days) == 9
    assert dt.date(2030, 1, 10) not in days  # Anna does not work on Thursdays
    assert question.later == days[-1] + dt.timedelta(days=1)
    assert chat.titles()[-1] == "Позже →"

    chat.tap("Позже →")

    later = chat.question
    assert isinstance(later, r.ChooseDay)
    assert later.days[0].day > days[-1]
    assert all(d.free > 0 for d in later.days)


def test_a_taken_time_gets_the_nearest_free_ones() -> None:
    chat = Chat()
    chat.desk(OTHER_CUSTOMER).book("manicure", at(TUESDAY, "15:00"), "anna")

    chat.say("Хочу на маникюр к Анне завтра в 15:00")

    assert chat.replies[0] == r.TimeNotFree(
        dt.time(15, 0), TUESDAY, SALON.services["manicure"], SALON.masters["anna"]
    )
    assert chat.messages[0].body == "15:00 занято. Ближайшее свободное время:"
    times = chat.titles()[:-1]
    assert "15:00" not in times and "13:00" in times and "16:15" in times
    assert times == sorted(times)
    assert chat.titles()[-1] == "Выбрать другой день"


def test_a_part_of_the_day_narrows_the_times() -> None:
    chat = Chat()

    chat.say("маникура в пятницу после обеда")

    question = chat.question
    assert isinstance(question, r.ChooseTime)
    assert question.day == FRIDAY and question.master is None  # a day given: any master
    assert question.slots and all(s.starts_at.time() >= dt.time(13, 0) for s in question.slots)
    assert chat.text.startswith("Маникюр, пт 11.01")


def test_a_part_of_the_day_with_nothing_free_shows_the_whole_day() -> None:
    chat = Chat()

    chat.say("маникюр к Анне завтра вечером после 20")

    assert chat.replies[0] == r.Notice("no_time_in_part")
    assert chat.titles()[0] == "10:00"


def test_a_master_who_does_not_do_the_service_is_said_so() -> None:
    chat = Chat()
    chat.say("педикюр")

    chat.say("к Марии")

    assert chat.messages[0].body == "Мария не выполняет услугу «Педикюр»."
    assert isinstance(chat.question, r.ChooseMaster | r.ChooseDay)


def test_a_word_for_two_services_asks_which_one() -> None:
    chat = Chat()

    chat.say("стрижка")

    question = chat.question
    assert isinstance(question, r.ChooseService)
    assert [s.code for s in question.services] == ["haircut_women", "haircut_men"]
    chat.tap("Мужская")
    assert isinstance(chat.question, r.ChooseMaster)  # Olga and Dmitry cut men's hair


def test_a_day_without_free_times_offers_the_next_days() -> None:
    chat = Chat()

    chat.say("маникюр к Анне в четверг")

    anna, manicure = SALON.masters["anna"], SALON.services["manicure"]
    assert chat.replies[0] == r.DayFull(dt.date(2030, 1, 10), manicure, anna)
    assert chat.messages[0].body == "Маникюр, мастер Анна: на чт 10.01 свободного времени нет."
    # The full day offers the waitlist for that service, day and master
    [join] = chat.messages[0].options
    assert (join.id, join.title) == ("waitlist:join:manicure|2030-01-10|anna", "В лист ожидания")
    question = chat.question
    assert isinstance(question, r.ChooseDay) and question.days[0].day == FRIDAY


def test_other_time_at_the_confirmation_goes_back_to_the_days() -> None:
    chat = Chat()
    chat.say("Хочу на маникюр к Анне завтра в 15:00")

    chat.tap("Другое время")

    assert isinstance(chat.question, r.ChooseDay)
    assert chat.saved["master"] == "anna" and "start" not in chat.saved


def test_declining_the_confirmation_books_nothing_and_forgets_the_dialogue() -> None:
    chat = Chat()
    chat.say("Хочу на маникюр к Анне завтра в 15:00")

    chat.tap("Отменить")

    assert chat.text == "Хорошо, ничего не меняю. Напишите «меню», если понадоблюсь."
    assert chat.bookings() == []
    assert "step" not in chat.saved


def test_a_tap_under_an_older_confirmation_never_books_the_newer_time() -> None:
    chat = Chat()
    chat.say("Хочу на маникюр к Анне завтра в 10:00")
    old_confirm = chat.option("Подтвердить").id
    chat.say("А можно завтра в 16:00?")
    assert "08.01 16:00" in chat.text

    chat.tap_id(old_confirm)

    assert chat.bookings() == []
    assert chat.replies[0] == r.Notice("confirm_stale")
    assert chat.messages[0].body.startswith("Эта кнопка относится к прошлому варианту")
    assert "08.01 16:00" in chat.text
    chat.tap("Подтвердить")
    (booking,) = chat.bookings()
    assert booking.starts_at == at(TUESDAY, "16:00")


def test_a_slot_taken_between_the_offer_and_the_confirmation_offers_that_days_times() -> None:
    chat = Chat()
    chat.say("Хочу на маникюр к Анне завтра в 15:00")
    other = chat.desk(OTHER_CUSTOMER).book("manicure", at(TUESDAY, "15:00"), "anna")

    chat.tap("Подтвердить")

    assert chat.bookings() == [other]
    assert chat.messages[0].body == "Увы, это время только что заняли. Вот что свободно:"
    question = chat.question
    assert isinstance(question, r.ChooseTime) and question.day == TUESDAY
    assert at(TUESDAY, "15:00") not in [s.starts_at for s in question.slots]
    result = chat.last.result
    assert result.booking_code is None
    (call,) = result.tool_calls
    assert call["name"] == "book" and call["result"]["ok"] is False
    assert call["arguments"] == {"service": "manicure", "start": "2030-01-08T15:00:00+03:00"}


def test_a_confirmation_whose_time_passed_its_notice_is_not_booked() -> None:
    chat = Chat()
    chat.say("Хочу на маникюр к Анне сегодня в 10:00")
    assert isinstance(chat.question, r.ConfirmSlot)

    chat.now = chat.now + dt.timedelta(minutes=20)  # 09:20: less than an hour's notice left
    chat.tap("Подтвердить")

    assert chat.bookings() == []
    assert chat.replies[0] == r.Notice("slot_unavailable")  # not "taken": the notice passed
    question = chat.question
    assert isinstance(question, r.ChooseTime) and question.slots[0].starts_at == at(MONDAY, "10:30")


def test_the_message_id_makes_the_booking_idempotent() -> None:
    # A redelivered confirmation (the same WhatsApp message) never books twice.
    chat = Chat()
    chat.say("Хочу на маникюр к Анне завтра в 15:00")
    saved = chat.saved

    confirm = GuidedMessage(tapped=chat.option("Подтвердить").id, message_id="wamid.same")
    first = chat.send(confirm)
    chat.saved = saved
    second = chat.send(confirm)

    assert len(chat.bookings()) == 1
    assert first.result.booking_code == second.result.booking_code


def test_the_step_leaves_the_state_it_was_given_as_it_was() -> None:
    chat = Chat()
    state = GuidedState(step="time", flow="book", service="manicure", master="anna", day=WEDNESDAY)
    before = state.model_copy(deep=True)

    outcome = step(state, GuidedMessage(text="в 11:00"), chat.desk())

    assert state == before
    assert outcome.state.start == at(WEDNESDAY, "11:00")
    assert isinstance(outcome.replies[-1], r.ConfirmSlot)


def test_any_master_can_be_typed_at_the_masters_question() -> None:
    chat = Chat()
    chat.say("маникюр")

    chat.say("любой")

    question = chat.question
    assert isinstance(question, r.ChooseDay) and question.master is None
    assert chat.saved["master"] == opt.ANY_MASTER


def test_any_master_in_the_first_message_skips_the_masters_question() -> None:
    chat = Chat()

    chat.say("маникюр к любому мастеру")

    assert isinstance(chat.question, r.ChooseDay)
    assert chat.saved["master"] == opt.ANY_MASTER


def test_a_master_named_first_narrows_the_services_to_theirs() -> None:
    chat = Chat()

    chat.say("Запишите к Марии")

    question = chat.question
    assert isinstance(question, r.ChooseService)
    assert [s.code for s in question.services] == ["manicure", "manicure_gel", "brows"]
    chat.say("на брови")  # in words: the master named stays
    day = chat.question
    assert isinstance(day, r.ChooseDay)
    assert day.master is not None and day.master.code == "maria"


def test_another_service_drops_a_master_who_does_not_do_it() -> None:
    chat = Chat()
    chat.say("маникюр к Анне")

    chat.say("нет, лучше женская стрижка")

    question = chat.question
    assert isinstance(question, r.ChooseDay)
    assert question.service.code == "haircut_women" and question.master is None  # only Olga


def test_nothing_free_in_the_horizon_says_so_and_shows_the_menu() -> None:
    salon = dataclasses.replace(SALON, booking_horizon_days=1)
    chat = Chat(calendar=Calendar(salon), now=at(MONDAY, "19:30"))  # too late for today

    chat.say("маникюр к Анне")

    # Then it is said for Anna, then for any master, both true, and the menu follows
    manicure = SALON.services["manicure"]
    assert chat.replies == [
        r.NoFreeDays(manicure, SALON.masters["anna"], MONDAY, MONDAY),
        r.NoFreeDays(manicure, None, MONDAY, MONDAY),
        r.MainMenu(),
    ]
    assert chat.messages[0].body.startswith(
        "Маникюр, мастер Анна: в ближайшие 1 дн. свободного времени нет."
    )
    assert chat.saved["step"] == "menu"


def test_a_page_of_times_past_the_last_shows_the_first() -> None:
    chat = Chat()
    chat.say("маникюр к Анне завтра")
    first = chat.titles()

    chat.tap_id("times:9")

    assert chat.titles() == first


def test_a_yes_with_no_slot_to_confirm_starts_again() -> None:
    state = GuidedState(step="confirm", flow="book", service="manicure")

    outcome = step(state, GuidedMessage(text="да"), Chat().desk())

    assert outcome.replies == [r.Notice("expired"), r.MainMenu()]


def test_a_customer_at_the_limit_is_shown_her_bookings_instead() -> None:
    chat = Chat()
    desk = chat.desk()
    for day in (MONDAY, TUESDAY, FRIDAY):
        desk.book("manicure", at(day, "12:00"), "anna")
    chat.say("Хочу на маникюр к Анне завтра в 15:00")

    chat.tap("Подтвердить")

    assert len(chat.bookings()) == 3
    assert chat.replies[0] == r.BookingLimit(3)
    assert isinstance(chat.question, r.YourBookings)
    assert chat.text.startswith(
        "У вас уже максимум предстоящих записей: 3. Можно перенести или отменить одну из них."
        "\nВаши записи:"
    )
    assert chat.option("07.01 12:00").description.startswith("Маникюр, Анна, ")
    (call,) = chat.last.result.tool_calls
    assert call["name"] == "book" and call["result"]["ok"] is False
    assert chat.last.result.booking_code is None


def test_a_time_the_customer_is_busy_at_offers_other_times() -> None:
    chat = Chat()
    chat.desk().book("manicure", at(TUESDAY, "15:00"), "anna")
    chat.say("Хочу на маникюр к Марии завтра в 15:00")
    assert isinstance(chat.question, r.ConfirmSlot)

    chat.tap("Подтвердить")

    assert len(chat.bookings()) == 1
    assert chat.replies[0] == r.Notice("client_busy")
    assert chat.messages[0].body == "В это время у вас уже есть запись. Вот другое свободное время:"
    question = chat.question
    assert isinstance(question, r.ChooseTime) and question.day == TUESDAY
