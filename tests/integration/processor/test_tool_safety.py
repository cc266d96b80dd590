"""The model proposes, the code decides: taken slots, other salons and other customers'
bookings, malformed calls and invented codes never turn into a false "booked"."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from salonbot.booking import store
from salonbot.db.connection import Connection
from salonbot.processing.pipeline import REPLIED
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, ToolCall
from tests.integration.processor.harness import (
    CUSTOMER,
    MOSCOW,
    NOW,
    OTHER_CUSTOMER,
    bookings_of,
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration

TEN = "2030-01-07 10:00"


def _call(name: str, arguments: object) -> Answer:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return Answer(tool_calls=[ToolCall(name, raw)])


def _echo_result(request: ModelRequest) -> Answer:
    """A model that words whatever the tool said; the test reads the result itself."""
    return Answer("Результат: " + json.dumps(request.tool_result(), ensure_ascii=False))


def test_a_slot_taken_between_find_and_book_offers_other_times_and_books_nothing(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the customer was offered Monday 10:00 with Anna
    salon = import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(_call("slots", {"service": "manicure"}), Answer("Есть 10:00 у Анны."))
    harness.say("Хочу на маникюр")
    # and someone else takes 10:00 with Anna, and with Maria too, before the customer answers
    store.create_booking(
        db, salon, phone=OTHER_CUSTOMER, service_code="manicure",
        starts_at=dt.datetime(2030, 1, 7, 10, 0, tzinfo=MOSCOW), master_code="anna", now=NOW,
    )  # fmt: skip
    db.commit()

    def claims_success_anyway(request: ModelRequest) -> Answer:
        # A careless model that announces a booking whatever the tool said
        return Answer("Вы записаны на 10:00! Код записи: KX7P2M.")

    fake_openai.add(
        _call("book", {"service": "manicure", "start": TEN, "master": "anna"}),
        claims_success_anyway,
    )

    # When the customer confirms 10:00
    assert harness.say("Да, на 10:00") == REPLIED

    # Then the tool told the model the slot is taken, with the nearest free times
    result = fake_openai.requests[-1].tool_result()
    assert result["ok"] is False and result["error"] == "slot_taken" and result["booked"] is False
    assert result["alternatives"] == [
        "2030-01-07 11:15 anna",
        "2030-01-07 11:30 anna",
        "2030-01-07 11:45 anna",
    ]
    # and the customer was not told they are booked: the invented code never reached them
    reply = sent_texts(fake_whatsapp)[-1]
    assert "KX7P2M" not in reply
    assert reply == "Не удалось подтвердить запись. Пожалуйста, выберите другое время."
    # and no booking exists for them, and none is recorded on the reply
    assert bookings_of(db) == []
    (last,) = rows(
        db, "SELECT booking_code FROM ai_messages WHERE role = 'assistant' ORDER BY id DESC LIMIT 1"
    )
    assert last["booking_code"] is None


def test_the_model_words_alternatives_after_a_taken_slot(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given Anna's 10:00 is taken
    salon = import_demo_salon(db)
    store.create_booking(
        db, salon, phone=OTHER_CUSTOMER, service_code="manicure",
        starts_at=dt.datetime(2030, 1, 7, 10, 0, tzinfo=MOSCOW), master_code="anna", now=NOW,
    )  # fmt: skip
    db.commit()
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))

    def offer(request: ModelRequest) -> Answer:
        options = ", ".join(a.split()[1] for a in request.tool_result()["alternatives"])
        return Answer(f"10:00 уже занято. Свободно: {options}. Какое время выберете?")

    fake_openai.add(_call("book", {"service": "manicure", "start": TEN, "master": "anna"}), offer)

    # When the customer asks for 10:00
    harness.say("Запишите на маникюр сегодня в 10:00 к Анне")

    # Then the reply offers other times and books nothing
    assert sent_texts(fake_whatsapp) == [
        "10:00 уже занято. Свободно: 11:15, 11:30, 11:45. Какое время выберете?"
    ]
    assert bookings_of(db) == []


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (
            {
                "service": "manicure",
                "start": TEN,
                "salon_id": "3f0c1a52-0000-4000-8000-0000000000b2",
            },
            "salon_id: not an argument",
        ),
        ({"service": "manicure", "start": TEN, "phone": OTHER_CUSTOMER}, "phone: not an argument"),
        ('{"service": "manicure", "start": ', "arguments are not valid JSON"),
        ({"service": "manicure", "start": "tomorrow at ten"}, "start:"),
        ({"start": TEN}, "service: Field required"),
        ({"service": "lash_extension", "start": TEN}, "salon has no service 'lash_extension'"),
    ],
)
def test_a_bad_book_call_gets_a_structured_error_and_changes_nothing(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    arguments: object,
    problem: str,
) -> None:
    # Given a model that calls `book` with bad or foreign arguments
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(_call("book", arguments), _echo_result)

    # When the customer writes
    assert harness.say("Запишите меня") == REPLIED

    # Then the model got an error naming the problem, and nothing was booked for anyone
    result = fake_openai.requests[-1].tool_result()
    assert result["ok"] is False
    assert problem in result["message"]
    assert rows(db, "SELECT count(*) AS n FROM bookings") == [{"n": 0}]


def test_another_customers_booking_cannot_be_cancelled_moved_or_seen(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given another customer's booking, whose code the model somehow knows
    salon = import_demo_salon(db)
    theirs = store.create_booking(
        db, salon, phone=OTHER_CUSTOMER, service_code="manicure",
        starts_at=dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW), master_code="anna", now=NOW,
    )  # fmt: skip
    db.commit()
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(
        Answer(
            tool_calls=[
                ToolCall("cancel", {"code": theirs.code}),
                ToolCall("move", {"code": theirs.code, "start": "2030-01-08 17:00"}),
                ToolCall("my_bookings", {}),
            ]
        ),
        lambda request: Answer(f"Записей с кодом {theirs.code} у вас нет."),
    )

    # When our customer asks to cancel it
    harness.say(f"Отмените запись {theirs.code}")

    # Then each call was refused as if the code did not exist, and their list is empty
    cancel, move, mine = fake_openai.requests[-1].tool_results()
    assert cancel["error"] == "booking_not_found" and move["error"] == "booking_not_found"
    assert mine == {"ok": True, "bookings": []}
    # and the other customer's booking is untouched
    (booking,) = bookings_of(db, OTHER_CUSTOMER)
    assert booking["status"] == "confirmed"
    assert booking["starts_at"] == theirs.starts_at
    # and naming their code in the reply is refused too: it is not this customer's
    assert sent_texts(fake_whatsapp) == [
        "Не удалось подтвердить запись. Пожалуйста, выберите другое время."
    ]


def test_another_salons_service_is_unknown_here(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a second salon that offers lash extensions, and the demo salon that does not
    import_demo_salon(db)
    import_demo_salon(
        db,
        id="3f0c1a52-0000-4000-8000-0000000000c2",
        name="Other Studio",
        whatsapp_phone_number_id="100000000000002",
        services=[
            {"code": "lashes", "name": {"en": "Lashes"}, "duration_minutes": 60, "price": 10}
        ],
        masters=[
            {
                "code": "eva",
                "name": "Eva",
                "services": ["lashes"],
                "working_hours": {"mon": ["10:00-18:00"]},
            }
        ],
    )
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(
        _call("book", {"service": "lashes", "start": TEN, "master": "eva"}), _echo_result
    )

    # When the model tries to book the other salon's service for the demo salon's customer
    harness.say("Lashes at 10 please")

    # Then it is refused and nothing is booked
    result = fake_openai.requests[-1].tool_result()
    assert result["error"] == "unknown_service"
    assert bookings_of(db) == []


def test_unknown_tools_are_refused_and_the_tool_loop_is_bounded(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model that keeps calling tools (one of them unknown)
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(
        _call("delete_database", {}),
        _call("services", {}),
        _call("services", {}),
        Answer("Вот наши услуги."),
    )

    # When the customer writes
    assert harness.say("Что у вас есть?") == REPLIED

    # Then the model was called at most 4 times, the last time without tools
    assert len(fake_openai.requests) == 4
    assert [r.body["tool_choice"] for r in fake_openai.requests] == ["auto", "auto", "auto", "none"]
    assert fake_openai.requests[1].tool_result()["error"] == "unknown_tool"
    assert sent_texts(fake_whatsapp) == ["Вот наши услуги."]


def test_a_booking_the_model_forgets_to_mention_is_confirmed_with_its_code(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(
        _call("book", {"service": "manicure", "start": "2030-01-07 12:00"}),
        Answer("Отлично, ждём вас!"),
    )

    harness.say("Маникюр сегодня в 12:00")

    (booking,) = bookings_of(db)
    (reply,) = sent_texts(fake_whatsapp)
    assert reply.startswith(
        "Отлично, ждём вас!\n\nГотово! Вы записаны: Маникюр, 07.01 12:00, мастер Анна."
    )
    assert reply.endswith(f"Код записи: {booking['code']}.")
    assert booking["source_message_id"].endswith("#0")
    (stored,) = rows(db, "SELECT booking_code FROM ai_messages WHERE role = 'assistant'")
    assert stored["booking_code"] == booking["code"]


@pytest.mark.parametrize(
    ("message", "claim", "refusal"),
    [
        (
            "Запишите на 10:00",
            "Отлично, вы записаны на маникюр в 10:00 к Анне!",
            "Не удалось подтвердить запись. Пожалуйста, выберите другое время.",
        ),
        (
            "Book me at ten please",
            "Great, I've booked you for a manicure at 10:00 with Anna.",
            "I could not confirm that booking. Please choose another time.",
        ),
    ],
    ids=["ru", "en"],
)
def test_a_booked_claim_without_a_booking_never_reaches_the_customer(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    message: str,
    claim: str,
    refusal: str,
) -> None:
    # Given a model that says "booked" without ever calling `book`
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(Answer(claim))

    # When the customer asks to book
    assert harness.say(message) == REPLIED

    # Then nothing was booked and the customer is not told otherwise
    assert bookings_of(db) == []
    assert sent_texts(fake_whatsapp) == [refusal]


def test_a_recap_of_the_customers_existing_booking_is_kept(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the customer's own booking
    salon = import_demo_salon(db)
    mine = store.create_booking(
        db, salon, phone=CUSTOMER, service_code="manicure",
        starts_at=dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW), master_code="anna", now=NOW,
    )  # fmt: skip
    db.commit()
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    recap = f"Вы записаны на маникюр 08.01 в 15:00 к Анне, код записи {mine.code}."
    fake_openai.add(Answer(recap))

    # When the customer asks what they are booked for
    harness.say("На когда я записана?")

    # Then the truthful recap, naming the booking's code, reaches them unchanged
    assert sent_texts(fake_whatsapp) == [recap]


@pytest.mark.parametrize("start", ["0001-01-01T00:00+05:00", "9999-12-31T23:00-05:00"])
@pytest.mark.parametrize("tool", ["book", "move"])
def test_a_start_at_the_edge_of_the_calendar_is_an_argument_error_not_a_crash(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, tool: str, start: str
) -> None:
    # Given the customer's booking and a model that books or moves it to an absurd time
    salon = import_demo_salon(db)
    mine = store.create_booking(
        db, salon, phone=CUSTOMER, service_code="manicure",
        starts_at=dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW), master_code="anna", now=NOW,
    )  # fmt: skip
    db.commit()
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    arguments = {"service": "manicure"} if tool == "book" else {"code": mine.code}
    fake_openai.add(_call(tool, {**arguments, "start": start}), _echo_result)

    # When the customer writes
    assert harness.say("Запишите меня") == REPLIED

    # Then the model was told the arguments are wrong, within the same turn
    assert len(fake_openai.requests) == 2
    result = fake_openai.requests[-1].tool_result()
    assert result["ok"] is False and result["error"] == "invalid_arguments"
    assert sent_texts(fake_whatsapp)[-1].startswith("Результат:")
    # and the bookings are as they were
    (booking,) = bookings_of(db)
    assert booking["starts_at"] == mine.starts_at


def test_a_start_years_away_is_refused_as_an_argument(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(
        _call("book", {"service": "manicure", "start": "2035-01-07 10:00"}), _echo_result
    )

    harness.say("Запишите меня")

    result = fake_openai.requests[-1].tool_result()
    assert result["error"] == "invalid_arguments"
    assert "start: Value error, must be within 2 years of 2030-01-07" in result["message"]
    assert bookings_of(db) == []


def test_book_me_every_free_slot_on_friday_books_one_and_asks(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model that answers "book me every free slot on Friday" with 22 parallel
    # `book` calls, a manicure every 30 minutes from 10:00, any master
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    opening = dt.datetime(2030, 1, 11, 10, 0)
    starts = [opening + dt.timedelta(minutes=30 * i) for i in range(22)]
    fake_openai.add(
        Answer(
            tool_calls=[
                ToolCall("book", {"service": "manicure", "start": f"{start:%Y-%m-%d %H:%M}"})
                for start in starts
            ]
        ),
        _echo_result,
    )

    # When the customer sends it
    assert harness.say("Запишите меня на все свободные окна в пятницу") == REPLIED

    # Then one manicure is booked and every other call was refused for this message
    results = fake_openai.requests[-1].tool_results()
    assert len(results) == 22 and results[0]["ok"] is True
    assert {r["error"] for r in results[1:]} == {"one_per_message"}
    (booking,) = bookings_of(db)
    assert booking["code"] == results[0]["booked"]["code"]
    assert booking["starts_at"] == dt.datetime(2030, 1, 11, 10, 0, tzinfo=MOSCOW)
