"""The guided flow through the processor, without a model: scripted Russian and English
dialogues against PostgreSQL, replies read back from the fake WhatsApp send API."""

from __future__ import annotations

import datetime as dt

import pytest

from salonbot.booking import store
from salonbot.booking.catalog import Salon
from salonbot.booking.store import Booking
from salonbot.db.connection import Connection
from salonbot.observability import MetricName, metrics
from salonbot.whatsapp.events import InboundMessage, QueueEnvelope
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    DEMO_PHONE_NUMBER_ID,
    MOSCOW,
    NOW,
    OTHER_CUSTOMER,
    Clock,
    bookings_of,
    import_demo_salon,
    rows,
)

pytestmark = pytest.mark.integration


def _assistant_rows(conn: Connection) -> list[dict[str, object]]:
    return rows(
        conn,
        "SELECT prompt_tokens, completion_tokens, cost, model, booking_code FROM ai_messages "
        "WHERE role = 'assistant' ORDER BY id",
    )


def _booked_code(text: str) -> str:
    return text.rsplit(" ", 1)[-1].rstrip(".")


def test_a_russian_customer_taps_through_a_booking_at_zero_tokens(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the demo salon and no model
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)
    metrics.clear_metrics()

    # When the customer greets and taps through every step
    customer.say("Здравствуйте")
    assert "Это Nail Studio Aurora" in customer.text
    assert customer.titles()[0] == "Записаться"
    customer.tap("Записаться")
    services = {c.title: c.description for c in customer.choices}
    assert services["Маникюр"] == "1500 RUB, 60 мин"
    assert services["Педикюр"] == "2800 RUB, 90 мин"
    customer.tap("Маникюр")
    assert customer.titles() == ["Любой мастер", "Анна", "Мария"]
    customer.tap("Анна")
    assert customer.titles()[:2] == ["Сегодня, пн 07.01", "Завтра, вт 08.01"]
    customer.tap("Завтра")
    assert customer.titles()[:3] == ["10:00", "10:15", "10:30"]
    customer.tap("10:15")
    assert customer.titles() == ["Подтвердить", "Другое время", "Отменить"]
    assert "Маникюр, 08.01 10:15, мастер Анна, 1500 RUB" in customer.text
    customer.tap("Подтвердить")

    # Then the booking exists, the reply carries its code, and no turn used the model
    (booking,) = bookings_of(db)
    assert (booking["service"], booking["master"], booking["status"]) == (
        "manicure",
        "anna",
        "confirmed",
    )
    assert booking["starts_at"] == dt.datetime(2030, 1, 8, 10, 15, tzinfo=MOSCOW)
    assert customer.text == (
        f"Готово! Вы записаны: Маникюр, 08.01 10:15, мастер Анна. Код записи: {booking['code']}."
    )
    replies = _assistant_rows(db)
    assert len(replies) == 7
    assert all(r["prompt_tokens"] == r["completion_tokens"] == r["cost"] == 0 for r in replies)
    assert all(r["model"] is None for r in replies)
    assert replies[-1]["booking_code"] == booking["code"]
    assert MetricName.ZERO_TOKEN_TURNS in metrics.metric_set
    metrics.clear_metrics()


def test_an_english_customer_taps_through_with_any_master(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say("Hi, I'd like to book")
    assert customer.choice("Manicure").description == "1500 RUB, 60 min"
    customer.tap("Gel polish")
    assert customer.titles() == ["Any master", "Anna", "Maria"]
    customer.tap("Any master")
    customer.tap("Today")
    assert customer.choices[0].description == "Anna"
    customer.tap("10:00")
    assert customer.titles() == ["Confirm", "Other time", "Cancel"]
    customer.tap("Confirm")

    (booking,) = bookings_of(db)
    assert booking["service"] == "manicure_gel"
    assert customer.text.startswith(
        "Done! You are booked: Gel polish manicure, 07.01 10:00, master Anna."
    )
    assert customer.text.endswith(f"Booking code: {booking['code']}.")


@pytest.mark.parametrize(
    ("text", "confirm", "expected"),
    [
        (
            "Хочу на маникюр к Анне завтра в 15:00",
            "Подтвердить",
            "Готово! Вы записаны: Маникюр, 08.01 15:00, мастер Анна.",
        ),
        (
            "Can I book a manicure with Anna tomorrow at 3pm?",
            "Confirm",
            "Done! You are booked: Manicure, 08.01 15:00, master Anna.",
        ),
    ],
    ids=["ru", "en"],
)
def test_one_message_goes_straight_to_the_confirmation(
    db: Connection, fake_whatsapp: FakeWhatsApp, text: str, confirm: str, expected: str
) -> None:
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say(text)
    assert customer.titles()[0] == confirm
    assert "08.01 15:00" in customer.text
    assert bookings_of(db) == []
    customer.tap(confirm)

    (booking,) = bookings_of(db)
    assert booking["starts_at"] == dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW)
    assert booking["master"] == "anna"
    assert customer.text.startswith(expected)


def test_a_typo_and_a_part_of_the_day_narrow_the_times(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say("маникура в пятницу после обеда")

    # Friday 11 January, any master (a day was given), from 13:00 on
    assert "Маникюр, пт 11.01" in customer.text
    times = [c.title for c in customer.choices[:-1]]
    assert times and all(t >= "13:00" for t in times)


def _book_directly(
    conn: Connection, salon: Salon, start: dt.datetime, phone: str = CUSTOMER
) -> Booking:
    booking = store.create_booking(
        conn,
        salon,
        phone=phone,
        service_code="manicure",
        starts_at=start,
        master_code="anna",
        now=NOW,
    )
    conn.commit()
    return booking


@pytest.mark.parametrize(
    ("ask", "yes", "done"),
    [
        ("Хочу отменить запись", "Да, отменить", "Запись отменена"),
        ("cancel my booking", "Yes", "Cancelled"),
    ],
    ids=["ru", "en"],
)
def test_a_customer_cancels_their_booking(
    db: Connection, fake_whatsapp: FakeWhatsApp, ask: str, yes: str, done: str
) -> None:
    salon = import_demo_salon(db)
    booking = _book_directly(db, salon, dt.datetime(2030, 1, 8, 12, 0, tzinfo=MOSCOW))
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say(ask)
    assert booking.code in customer.text
    customer.tap(yes)

    assert customer.text.startswith(done)
    (row,) = bookings_of(db)
    assert row["status"] == "cancelled"


def test_cancel_quoting_our_confirmation_cancels_that_booking_after_asking(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a booking made in the chat, its confirmation, and a second booking
    salon = import_demo_salon(db)
    harness = guided_harness(db, fake_whatsapp)
    customer = Customer(harness, fake_whatsapp)
    customer.say("Хочу на маникюр к Анне завтра в 15:00")
    customer.tap("Подтвердить")
    confirmation = fake_whatsapp.sent[-1]
    code = _booked_code(customer.text)
    other = _book_directly(db, salon, dt.datetime(2030, 1, 9, 12, 0, tzinfo=MOSCOW))

    # When the customer replies "отменить" to that confirmation
    message = InboundMessage(
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        message_id="wamid.quote.confirmation",
        wa_id=CUSTOMER.lstrip("+"),
        timestamp=harness.clock.now,
        type="text",
        text="отменить",
        payload={"context": {"from": "79000000001", "id": confirmation.id}},
    )
    harness.process(QueueEnvelope(event=message, enqueued_at=harness.clock.now).model_dump_json())
    customer._collect()

    # Then they are asked about that booking (not "which one?"), nothing cancelled yet
    assert code in customer.text and other.code not in customer.text
    assert {row["status"] for row in bookings_of(db)} == {"confirmed"}
    # ... and once they agree, that booking alone is cancelled
    customer.tap("Да, отменить")
    statuses = {row["code"]: row["status"] for row in bookings_of(db)}
    assert statuses == {code: "cancelled", other.code: "confirmed"}


def test_a_customer_moves_a_booking_with_one_message(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    salon = import_demo_salon(db)
    booking = _book_directly(db, salon, dt.datetime(2030, 1, 8, 12, 0, tzinfo=MOSCOW))
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say("Можно перенести запись на завтра в 12:30?")

    # The booking's own time does not block the overlapping new one
    assert "Перенести Маникюр на 08.01 12:30, мастер Анна?" in customer.text
    customer.tap("Подтвердить")
    (row,) = bookings_of(db)
    assert row["starts_at"] == dt.datetime(2030, 1, 8, 12, 30, tzinfo=MOSCOW)
    assert row["code"] == booking.code and row["status"] == "confirmed"
    assert customer.text.startswith("Готово! Запись перенесена: Маникюр, 08.01 12:30")


def test_an_english_customer_reschedules_by_tapping(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    salon = import_demo_salon(db)
    _book_directly(db, salon, dt.datetime(2030, 1, 7, 12, 0, tzinfo=MOSCOW))
    _book_directly(db, salon, dt.datetime(2030, 1, 8, 12, 0, tzinfo=MOSCOW))
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say("I need to reschedule")
    assert customer.text == "Which booking should I move?"
    customer.tap("08.01 12:00")
    customer.tap("Fri")
    customer.tap("11:00")
    customer.tap("Confirm")

    starts = [b["starts_at"] for b in bookings_of(db)]
    assert starts == [
        dt.datetime(2030, 1, 7, 12, 0, tzinfo=MOSCOW),
        dt.datetime(2030, 1, 11, 11, 0, tzinfo=MOSCOW),
    ]


def test_a_slot_taken_meanwhile_offers_other_times(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a customer at the confirmation of Anna's 15:00 tomorrow
    salon = import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)
    customer.say("Хочу на маникюр к Анне завтра в 15:00")
    assert customer.titles()[0] == "Подтвердить"

    # When someone else books that time first
    _book_directly(db, salon, dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW), OTHER_CUSTOMER)
    customer.tap("Подтвердить")

    # Then nothing is booked for the customer, who is offered that day's free times
    assert bookings_of(db) == []
    assert customer.replies[0].text == "Увы, это время только что заняли. Вот что свободно:"
    assert "15:00" not in customer.titles()
    assert "16:15" in customer.titles() or "Позже →" in customer.titles()
    assert _assistant_rows(db)[-1]["booking_code"] is None


def test_a_customer_at_the_limit_is_shown_her_bookings_instead(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a customer with three upcoming bookings, the salon's limit
    salon = import_demo_salon(db)
    for day in (7, 8, 11):
        _book_directly(db, salon, dt.datetime(2030, 1, day, 12, 0, tzinfo=MOSCOW))
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    # When she confirms a fourth
    customer.say("Хочу на маникюр к Анне завтра в 15:00")
    customer.tap("Подтвердить")

    # Then nothing is booked; she is told why and shown her bookings to move or cancel
    assert len(bookings_of(db)) == 3
    assert customer.text.startswith(
        "У вас уже максимум предстоящих записей: 3. Можно перенести или отменить одну из них."
        "\nВаши записи:"
    )
    assert customer.titles() == ["07.01 12:00", "08.01 12:00", "11.01 12:00"]
    assert customer.choices[0].description.startswith("Маникюр, Анна, ")
    assert _assistant_rows(db)[-1]["booking_code"] is None


def test_a_time_the_customer_is_busy_offers_other_times(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a customer with Anna tomorrow at 15:00
    salon = import_demo_salon(db)
    _book_directly(db, salon, dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW))
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    # When she confirms Maria at the same time
    customer.say("Хочу на маникюр к Марии завтра в 15:00")
    customer.tap("Подтвердить")

    # Then she keeps one booking and is offered other times
    assert len(bookings_of(db)) == 1
    assert customer.replies[0].text == (
        "В это время у вас уже есть запись. Вот другое свободное время:"
    )
    assert customer.titles()


def test_a_stale_state_expires_and_a_fresh_one_survives_a_restart(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    clock = Clock()
    customer = Customer(guided_harness(db, fake_whatsapp, clock=clock), fake_whatsapp)
    customer.say("Хочу на маникюр к Анне завтра в 15:00")

    # A new container 10 minutes later resumes the dialogue from the database
    clock.now += dt.timedelta(minutes=10)
    restarted = guided_harness(db, fake_whatsapp, clock=clock)
    restarted.ids = customer.harness.ids  # new WhatsApp message ids
    customer.harness = restarted
    customer.say("1")
    (booking,) = bookings_of(db)
    assert customer.text.endswith(f"Код записи: {booking['code']}.")

    # A confirmation left for longer than the TTL is not acted on
    customer.say("Хочу на педикюр завтра в 11:00")
    assert customer.titles()[0] == "Подтвердить"
    clock.now += dt.timedelta(minutes=31)
    customer.tap("Подтвердить")
    assert customer.replies[0].text == "Прошлый выбор устарел, давайте начнём заново."
    assert customer.titles()[0] == "Записаться"
    assert len(bookings_of(db)) == 1


@pytest.mark.parametrize(
    ("text", "kind", "first_line"),
    [
        ("ывапролдж", "text", "Извините, я не понял(а) сообщение."),
        ("😊👍🏻", "text", "Извините, я не понял(а) сообщение."),
        (None, "audio", "Голосовые сообщения и вложения я не понимаю"),
        ("qwzx plorf", "text", "Sorry, I didn't understand that."),
    ],
    ids=["gibberish", "emoji", "voice", "english-gibberish"],
)
def test_unclear_input_gets_help_and_the_menu(
    db: Connection, fake_whatsapp: FakeWhatsApp, text: str | None, kind: str, first_line: str
) -> None:
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say(text, kind=kind)

    assert customer.replies[0].text.startswith(first_line)
    assert len(customer.choices) == 5  # the menu
    assert bookings_of(db) == []


def test_unclear_input_mid_flow_repeats_the_question(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)
    customer.say("маникюр")
    masters = customer.titles()

    customer.say("🤔")

    assert customer.replies[0].text.startswith("Извините, не понял(а).")
    assert customer.titles() == masters


def test_faq_answers_from_the_salon_data_and_a_reimport_refreshes_them(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = guided_harness(db, fake_whatsapp)
    customer = Customer(harness, fake_whatsapp)

    customer.say("Сколько стоит маникюр?")
    assert customer.text == "Маникюр — 1500 RUB, 60 мин."
    customer.say("Где вы находитесь?")
    assert customer.text == "Мы находимся по адресу: Москва, Тверская ул., 1."
    customer.say("What are your opening hours?")
    assert customer.text.splitlines()[:2] == ["Opening hours:", "Mon: 09:00–20:00"]

    # When the salon is re-imported with a new price
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import validate_salon
    from tests.integration.processor.harness import demo_salon_data

    data = demo_salon_data()
    data["services"][0]["price"] = 1700
    import_salon(db, validate_salon(data))
    db.commit()
    customer.say("Сколько стоит маникюр?")
    assert customer.text == "Маникюр — 1700 RUB, 60 мин."
    engines = rows(
        db, "SELECT count(*) AS n FROM ai_messages WHERE role = 'assistant' AND model IS NULL"
    )
    assert engines[0]["n"] == 4


def test_asking_for_a_person_hands_the_conversation_to_staff(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say("Позовите администратора")

    assert customer.text == "Передаю ваш вопрос администратору — вам ответят здесь же."
    (conversation,) = rows(db, "SELECT status FROM ai_conversations")
    assert conversation["status"] == "handoff"


def test_my_bookings_lists_the_upcoming_ones(db: Connection, fake_whatsapp: FakeWhatsApp) -> None:
    salon = import_demo_salon(db)
    booking = _book_directly(db, salon, dt.datetime(2030, 1, 8, 12, 0, tzinfo=MOSCOW))
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say("Мои записи")
    assert customer.text == "Ваши записи:"  # each booking once: as its row
    assert customer.choices[0].description == f"Маникюр, Анна, {booking.code}"
    customer.tap("08.01 12:00")
    assert customer.titles() == ["Перенести", "Отменить запись", "Меню"]


def test_the_demo_script_books_through_the_guided_flow(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the choices `salonbot demo` makes (confirm when asked, else the manicure,
    # else the first option that does not back out)
    from salonbot_dev.local.demo import MAX_TURNS, OPENING, pick

    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    customer.say(OPENING)
    for _ in range(MAX_TURNS):
        if bookings_of(db) or not customer.choices:
            break
        customer.tap(pick(customer.choices).title)

    (booking,) = bookings_of(db)
    assert booking["service"] == "manicure"
    assert customer.text.startswith("Готово! Вы записаны: Маникюр")


def test_a_failing_guided_flow_still_answers_with_the_fixed_text(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    from salonbot.assistant.router import WithLastResort
    from salonbot.texts import phrases

    class Broken:
        def respond(self, conn: Connection, turn: object) -> object:
            conn.execute('UPDATE ai_conversations SET state = \'{"step": "x"}\'')
            raise RuntimeError("bug")

    import_demo_salon(db)
    harness = guided_harness(db, fake_whatsapp)
    harness.router.fallback = WithLastResort(Broken())  # type: ignore[arg-type]
    customer = Customer(harness, fake_whatsapp)

    customer.say("Хочу на маникюр")

    assert customer.text == phrases("ru")["fixed_reply"]
    (conversation,) = rows(db, "SELECT state FROM ai_conversations")
    assert conversation["state"] == {}  # the failed engine's effects were rolled back


def test_a_model_failure_mid_turn_gets_the_guided_answer(
    db: Connection, fake_whatsapp: FakeWhatsApp, fake_openai: FakeOpenAI
) -> None:
    from tests.fakes.openai_server import Failure

    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp, fake_openai=fake_openai), fake_whatsapp)
    fake_openai.add(Failure(500))

    customer.say("Хочу на маникюр")

    assert customer.titles() == ["Любой мастер", "Анна", "Мария"]


def test_faq_is_answered_without_the_model_when_the_model_is_on(
    db: Connection, fake_whatsapp: FakeWhatsApp, fake_openai: FakeOpenAI
) -> None:
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp, fake_openai=fake_openai), fake_whatsapp)

    customer.say("How much is a pedicure?")

    assert customer.text == "Pedicure: 2800 RUB, 90 min."
    assert fake_openai.requests == []


def test_without_interactive_messages_options_are_numbered_and_a_number_answers(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    from salonbot.processing.turn import ConversationTurn, reply_text
    from salonbot.whatsapp.events import CustomerMessage

    salon = import_demo_salon(db)
    harness = guided_harness(db, fake_whatsapp)
    turn = ConversationTurn(
        harness.settings, assistant=harness.router, staff=harness.staff, clock=harness.clock
    )

    def say(text: str) -> str:
        message = CustomerMessage(
            wa_id=CUSTOMER.lstrip("+"), timestamp=harness.clock.now, text=text
        )
        with db.transaction():
            outcome = turn.run(db, salon, message, interactive_supported=False)
        assert outcome.result is not None
        return reply_text(outcome.result)

    first = say("маникюр")
    assert first.splitlines()[-3:] == ["1. Любой мастер", "2. Анна", "3. Мария"]
    assert "Ответьте номером варианта или текстом." in first
    assert "Анна" in say("2").splitlines()[0]
    assert say("Завтра, вт 08.01").splitlines()[-1].startswith("10. ")


def test_a_yes_to_the_models_offer_never_confirms_an_older_guided_question(
    db: Connection, fake_whatsapp: FakeWhatsApp, fake_openai: FakeOpenAI
) -> None:
    from tests.fakes.openai_server import Answer, Failure

    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp, fake_openai=fake_openai), fake_whatsapp)
    # Given the guided flow asked to confirm Monday 10:00 with Anna during an outage
    fake_openai.add(Failure(500))
    customer.say("Хочу на маникюр к Анне сегодня в 10:00")
    assert customer.titles()[0] == "Подтвердить"
    assert "07.01 10:00" in customer.text
    # and the model, back, offered another time
    fake_openai.add(Answer("Могу предложить среду в 15:00 у Марии. Записать?"))
    customer.say("А в среду можно?")
    assert customer.text.startswith("Могу предложить среду")

    # When the customer says yes just as the model fails again
    fake_openai.add(Failure(500))
    customer.say("Да")

    # Then the guided flow does not book the question it asked before the model answered
    assert bookings_of(db) == []
    assert "Готово" not in customer.text
    (conversation,) = rows(db, "SELECT state FROM ai_conversations")
    assert conversation["state"].get("step") != "confirm"


def test_a_tap_under_an_older_confirmation_never_books_the_newer_time(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    from salonbot.whatsapp.events import InteractiveReply

    import_demo_salon(db)
    harness = guided_harness(db, fake_whatsapp)
    customer = Customer(harness, fake_whatsapp)
    # Given a confirmation of 10:00, and then, after the customer asked for 16:00, of 16:00
    customer.say("Хочу на маникюр к Анне завтра в 10:00")
    assert "08.01 10:00" in customer.text
    old_yes = customer.choice("Подтвердить")
    customer.say("А можно завтра в 16:00?")
    assert "08.01 16:00" in customer.text
    assert customer.titles()[0] == "Подтвердить"

    # When the customer taps "Подтвердить" under the 10:00 message
    stale = InteractiveReply.model_validate(
        {"kind": old_yes.kind, "id": old_yes.id, "title": old_yes.title}
    )
    harness.process(harness.body(None, phone=CUSTOMER, interactive=stale))
    customer._collect()

    # Then nothing is booked and the current question (16:00) is asked again, in Russian
    assert bookings_of(db) == []
    assert "прошлому варианту" in customer.text
    assert "08.01 16:00" in customer.text
    assert customer.titles() == ["Подтвердить", "Другое время", "Отменить"]
    # and the 16:00 button, or a typed yes, books 16:00
    customer.say("да")
    (booking,) = bookings_of(db)
    assert booking["starts_at"] == dt.datetime(2030, 1, 8, 16, 0, tzinfo=MOSCOW)


def test_an_english_customer_who_answers_10_00_is_answered_in_english(
    db: Connection, fake_whatsapp: FakeWhatsApp, fake_openai: FakeOpenAI
) -> None:
    from tests.fakes.openai_server import Answer, Failure

    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp, fake_openai=fake_openai), fake_whatsapp)
    # Given an English conversation with the model
    fake_openai.add(Answer("Sure! What time tomorrow would suit you?"))
    customer.say("Hi, I'd like a manicure with Anna tomorrow")

    # When the model is out and the customer's answers carry no words
    def offline(text: str | None = None, tap: str | None = None) -> None:
        fake_openai.add(Failure(500))
        customer.tap(tap) if tap else customer.say(text)

    offline("10:00")
    # Then the guided flow answers in the conversation's language, not the salon's
    assert customer.text.startswith("Which service?")
    offline(tap="Manicure")
    offline(tap="Anna")
    offline(tap="Tomorrow")
    offline("10:00")
    assert customer.titles()[0] == "Confirm"
    assert "Manicure, 08.01 10:00" in customer.text
    offline(tap="Confirm")
    (booking,) = bookings_of(db)
    assert customer.text.startswith("Done!")
    assert booking["code"] in customer.text
