"""Whole booking conversations through the processor: queue body in, the real SDK
against the scripted fake model, the real tools against PostgreSQL, replies at the
fake WhatsApp send API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from salonbot.db.connection import Connection
from salonbot.processing.pipeline import REPLIED
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, ToolCall
from tests.integration.processor.harness import (
    ACCESS_TOKEN,
    CUSTOMER,
    MOSCOW,
    TUESDAY,
    bookings_of,
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration


def _call(name: str, **arguments: object) -> Answer:
    return Answer(tool_calls=[ToolCall(name, dict(arguments))])


def _earliest_reply(request: ModelRequest) -> Answer:
    earliest = request.tool_result()["earliest"]
    return Answer(f"Ближайшее время на маникюр: {', '.join(earliest[:3])}. Какое удобно?")


def _day_reply(request: ModelRequest) -> Answer:
    result = request.tool_result()
    assert result["ok"] and result["date"] == TUESDAY.isoformat()
    return Answer(f"Во вторник у Анны свободно: {', '.join(result['free']['anna'])}.")


def _booked_reply(request: ModelRequest) -> Answer:
    result = request.tool_result()
    assert result["ok"], result
    booked = result["booked"]
    return Answer(
        f"Готово! Вы записаны на {booked['start']} к мастеру {booked['master']}. "
        f"Код: {booked['code']}."
    )


def _list_reply(request: ModelRequest) -> Answer:
    bookings = request.tool_result()["bookings"]
    return Answer("Ваши записи: " + "; ".join(f"{b['start']} ({b['code']})" for b in bookings))


def _moved_reply(request: ModelRequest) -> Answer:
    moved = request.tool_result()["moved"]
    return Answer(f"Перенесли на {moved['start']}, код {moved['code']}.")


def _move_call(request: ModelRequest) -> Answer:
    # The code comes from the conversation, as a model would take it from its history.
    code = request.messages[-2]["content"].split("(")[-1].rstrip(")")
    return _call("move", code=code, start="2030-01-08 16:00")


def test_a_russian_customer_books_moves_and_gets_each_answer(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the demo salon and a model that finds, books, lists and moves with the tools
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(
        _call("slots", service="manicure"),
        _earliest_reply,
        _call("slots", service="manicure", date=TUESDAY.isoformat(), master="anna"),
        _day_reply,
        _call("book", service="manicure", start="2030-01-08 15:00", master="anna"),
        _booked_reply,
        _call("my_bookings"),
        _list_reply,
        _move_call,
        _moved_reply,
        Answer("Пожалуйста! Ждём вас во вторник."),
    )
    turns = [
        "Здравствуйте! Хочу записаться на маникюр",
        "А во вторник после обеда у Анны есть время?",
        "Запишите на 15:00",
        "Какие у меня записи?",
        "Перенесите, пожалуйста, на 16:00",
        "Спасибо!",
    ]

    # When the customer writes six messages
    outcomes = [harness.say(text) for text in turns]

    # Then each got exactly one reply, in order, in Russian
    assert outcomes == [REPLIED] * 6
    texts = sent_texts(fake_whatsapp)
    assert len(texts) == 6
    assert texts[0].startswith("Ближайшее время на маникюр: 2030-01-07 10:00 anna")
    assert "15:00-" in texts[1]
    # and the one booking, moved to 16:00, is in PostgreSQL with the code the replies named
    (booking,) = bookings_of(db)
    assert booking["status"] == "confirmed"
    assert (booking["service"], booking["master"]) == ("manicure", "anna")
    assert booking["starts_at"].astimezone(MOSCOW) == dt.datetime(2030, 1, 8, 16, 0, tzinfo=MOSCOW)
    assert booking["code"] in texts[2] and booking["code"] in texts[4]
    # and the model was called twice for a turn with a tool, once without
    calls_per_turn = [2, 2, 2, 2, 2, 1]
    assert len(fake_openai.requests) == sum(calls_per_turn)
    assert fake_openai.unscripted == []
    # and WhatsApp got the salon's token
    assert {m.authorization for m in fake_whatsapp.sent} == {f"Bearer {ACCESS_TOKEN}"}

    # And the conversation is stored: one user and one assistant row per turn, with usage
    messages = rows(
        db,
        "SELECT role, content, prompt_tokens, completion_tokens, cost, model, booking_code, "
        "tool_calls, external_id, response_time_ms FROM ai_messages ORDER BY id",
    )
    assert [m["role"] for m in messages] == ["user", "assistant"] * 6
    assert [m["content"] for m in messages[::2]] == turns
    replies = messages[1::2]
    assert all(m["prompt_tokens"] > 0 and m["cost"] > 0 for m in replies)
    assert all(m["model"] == "gpt-4o-mini" for m in replies)
    assert all(m["response_time_ms"] is not None for m in replies)
    assert replies[2]["booking_code"] == booking["code"]
    assert [c["name"] for c in replies[2]["tool_calls"]] == ["book"]
    assert all(m["external_id"].startswith("wamid.test.") for m in messages[::2])
    # The stored prompt tokens are what the fake model reported for the turn's requests
    reported = sum(r.prompt_tokens for r in fake_openai.requests[4:6])
    assert replies[2]["prompt_tokens"] == reported
    (conversation,) = rows(db, "SELECT * FROM ai_conversations")
    assert conversation["id"] == f"conv_{booking_code_salon(db)}_{CUSTOMER.lstrip('+')}"
    assert conversation["message_count"] == 12
    assert conversation["language"] == "ru"
    # (the conversation's total keeps 6 decimals, the messages 8)
    spent = sum((m["cost"] for m in replies), Decimal(0))
    assert abs(conversation["total_cost"] - spent) < Decimal("0.000001") * 6


def booking_code_salon(conn: Connection) -> str:
    (salon,) = rows(conn, "SELECT id FROM salons")
    return str(salon["id"])


def test_an_english_customer_books_a_haircut_for_tomorrow(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the demo salon; Olga cuts hair on Wednesdays 9-13 and 14-19
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    wednesday = "2030-01-09"

    def offer(request: ModelRequest) -> Answer:
        free = request.tool_results()[0]["free"]["olga"]
        return Answer(f"Tomorrow Olga is free {', '.join(free)}. Which time suits you?")

    def confirm(request: ModelRequest) -> Answer:
        booked = request.tool_result()["booked"]
        return Answer(
            f"You're booked for {booked['start']} with {booked['master']}. Code {booked['code']}."
        )

    fake_openai.add(
        # The model looks up the day and the prices at once (parallel tool calls)
        Answer(
            tool_calls=[
                ToolCall("slots", {"service": "haircut_men", "date": wednesday}),
                ToolCall("services", {}),
            ]
        ),
        offer,
        _call("book", service="haircut_men", start=f"{wednesday} 11:30", master="olga"),
        confirm,
    )

    # When the customer asks in English and picks a time
    harness.clock.now = dt.datetime(2030, 1, 8, 18, 0, tzinfo=MOSCOW)
    assert harness.say("Hi, can I book a men's haircut tomorrow?") == REPLIED
    assert harness.say("11:30 please") == REPLIED

    # Then both parallel tool results went back in one request, in call order
    second = fake_openai.requests[1]
    results = second.tool_results()
    assert [sorted(r) for r in results] == [
        ["date", "free", "ok", "step_min"],
        ["ok", "services"],
    ]
    # and the system prompt carries the salon's date and time and asks for their language
    assert "Now: Tue 2030-01-08 18:00 (Europe/Moscow)" in second.system
    assert "customer's language" in second.system
    # and the booking exists and the English reply names it
    (booking,) = bookings_of(db)
    assert (
        booking["starts_at"].astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M") == f"{wednesday} 11:30"
    )
    texts = sent_texts(fake_whatsapp)
    assert texts[0].startswith("Tomorrow Olga is free 09:00-")
    assert booking["code"] in texts[1]
    (conversation,) = rows(db, "SELECT language FROM ai_conversations")
    assert conversation["language"] == "en"


def test_history_sent_to_the_model_is_the_last_messages_within_budget(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a history window of 4 messages
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp, history_messages=4))
    for number in range(5):
        fake_openai.add(Answer(f"ответ {number}"))
        harness.say(f"вопрос {number}")

    # Then the last request held the system prompt, the 4 latest stored messages and
    # the new one, and no tool chatter from earlier turns
    last = fake_openai.requests[-1]
    assert [m["content"] for m in last.messages[1:]] == [
        "вопрос 2",
        "ответ 2",
        "вопрос 3",
        "ответ 3",
        "вопрос 4",
    ]
    assert [m["role"] for m in last.messages] == ["system"] + ["user", "assistant"] * 2 + ["user"]


def test_history_is_trimmed_to_the_token_budget(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given long earlier messages and a small token budget
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp, history_token_budget=100))
    fake_openai.add(Answer("длинный ответ " * 40), Answer("коротко"))
    harness.say("длинный вопрос " * 40)
    harness.say("короткий вопрос")

    # Then the second request carries only what fits: the long reply alone (~150 tokens)
    # is over budget, but the newest message always stays
    last = fake_openai.requests[-1]
    assert [m["role"] for m in last.messages] == ["system", "assistant", "user"]
    assert last.messages[-1]["content"] == "короткий вопрос"


def test_nul_characters_never_keep_a_message_from_being_stored(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a queued message (enqueued before the webhook dropped NULs) with NUL in its
    # text and sender's name, and a model whose reply and tool call carry one too
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    # (written into the JSON: building the body's model would already clean it)
    body = harness.body("Хочу на маникюр").replace("маникюр", "маникюр\\u0000")
    body = body.replace("Мария", "Ма\\u0000рия")
    fake_openai.add(
        Answer(tool_calls=[ToolCall("slots", {"service": "manicure\u0000"})]),
        Answer("Есть время\u0000 в понедельник."),
    )

    # When it is processed
    assert harness.process(body) == REPLIED

    # Then it is stored and answered, without the NULs, on the first attempt
    stored = rows(db, "SELECT role, content FROM ai_messages ORDER BY id")
    assert stored == [
        {"role": "user", "content": "Хочу на маникюр"},
        {"role": "assistant", "content": "Есть время в понедельник."},
    ]
