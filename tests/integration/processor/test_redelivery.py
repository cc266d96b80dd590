"""A message redelivered after a crash at any point (after the model call, after commit,
after the send) or sent twice by Meta gives one booking and one reply."""

from __future__ import annotations

from typing import Any

import pytest

from salonbot.assistant.base import TurnInput, TurnResult
from salonbot.db.connection import Connection
from salonbot.processing import pipeline
from salonbot.processing.pipeline import MessageProcessor
from salonbot.processing.replies import ReplyNotSent
from salonbot.processing.staff import StaffNotifier
from salonbot.whatsapp.client import WhatsAppClient
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, ToolCall
from tests.integration.processor.harness import (
    Harness,
    bookings_of,
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies here: nothing after it runs, no handler catches it."""


def _book_and_confirm() -> list[Any]:
    def confirm(request: ModelRequest) -> Answer:
        booked = request.tool_result()["booked"]
        return Answer(f"Записали! Код {booked['code']}.")

    book = Answer(
        tool_calls=[ToolCall("book", {"service": "manicure", "start": "2030-01-07 12:00"})]
    )
    return [book, confirm]


def _ledger(conn: Connection) -> dict[str, Any]:
    (row,) = rows(conn, "SELECT * FROM inbound_messages")
    return row


def _assert_one_booking_one_reply(conn: Connection, fake_whatsapp: FakeWhatsApp) -> None:
    (booking,) = bookings_of(conn)
    (reply,) = sent_texts(fake_whatsapp)
    assert booking["code"] in reply
    assert [r["role"] for r in rows(conn, "SELECT role FROM ai_messages ORDER BY id")] == [
        "user",
        "assistant",
    ]


@pytest.fixture
def harness(db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp) -> Harness:
    import_demo_salon(db)
    return build_harness(db, settings_for(fake_openai, fake_whatsapp))


def _processor_with(harness: Harness, **overrides: Any) -> MessageProcessor:
    parts: dict[str, Any] = {
        "assistant": harness.router,
        "whatsapp": harness.whatsapp,
        "staff": harness.staff,
    }
    parts.update(overrides)
    return MessageProcessor(
        harness.settings, connection=lambda: harness.conn, clock=harness.clock, **parts
    )


def test_a_crash_after_the_model_call_redoes_the_turn_once(
    harness: Harness, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a container that dies right after the model answered (before commit)
    class DiesAfterAnswering:
        def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
            harness.router.respond(conn, turn)
            raise Crash

    fake_openai.add(*_book_and_confirm(), *_book_and_confirm())
    body = harness.body("Маникюр сегодня в 12:00")
    with pytest.raises(Crash):
        harness.processor = _processor_with(harness, assistant=DiesAfterAnswering())
        harness.process(body)
    assert bookings_of(harness.conn) == []  # rolled back with the rest

    # When SQS redelivers it to a healthy container
    harness.processor = _processor_with(harness)
    assert harness.process(body) == pipeline.REPLIED

    # Then the model was asked again, but there is one booking and one reply
    assert len(fake_openai.requests) == 4
    _assert_one_booking_one_reply(harness.conn, fake_whatsapp)


def test_a_crash_after_commit_sends_the_saved_reply_without_asking_the_model(
    harness: Harness,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a container that dies after commit, before sending
    fake_openai.add(*_book_and_confirm())
    body = harness.body("Маникюр сегодня в 12:00")

    def dies(*args: Any, **kwargs: Any) -> str:
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(pipeline.replies, "deliver", dies)
        with pytest.raises(Crash):
            harness.process(body)
    assert _ledger(harness.conn)["reply_status"] == "pending"
    assert sent_texts(fake_whatsapp) == []

    # When the message is redelivered
    assert harness.process(body) == pipeline.REPLIED

    # Then the saved reply went out once and the model was not asked again
    assert len(fake_openai.requests) == 2
    _assert_one_booking_one_reply(harness.conn, fake_whatsapp)
    ledger = _ledger(harness.conn)
    assert ledger["reply_status"] == "sent"
    assert ledger["reply_message_id"] == fake_whatsapp.sent[0].id


def test_a_crash_after_the_send_never_sends_twice(
    harness: Harness, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a container that dies after WhatsApp accepted the reply, before recording it
    class DiesAfterSending(WhatsAppClient):
        def send_payload(self, phone_number_id: str, payload: dict[str, Any]) -> str:
            super().send_payload(phone_number_id, payload)
            raise Crash

    fake_openai.add(*_book_and_confirm())
    body = harness.body("Маникюр сегодня в 12:00")
    harness.processor = _processor_with(harness, whatsapp=DiesAfterSending(harness.settings))
    with pytest.raises(Crash):
        harness.process(body)

    # When the message is redelivered
    harness.processor = _processor_with(harness)
    assert harness.process(body) == pipeline.REPLY_FAILED

    # Then the interrupted send is not repeated: one booking, one reply
    assert len(fake_openai.requests) == 2
    _assert_one_booking_one_reply(harness.conn, fake_whatsapp)
    ledger = _ledger(harness.conn)
    assert ledger["reply_status"] == "failed"
    assert ledger["reply_error"] == "send interrupted; not repeated"
    assert [item["state"] for item in ledger["reply"]] == ["unknown"]


def test_meta_sending_the_same_message_twice_gets_one_answer(
    harness: Harness, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    fake_openai.add(*_book_and_confirm())
    body = harness.body("Маникюр сегодня в 12:00")

    assert harness.process(body) == pipeline.REPLIED
    assert harness.process(body) == pipeline.REPLIED

    assert len(fake_openai.requests) == 2
    _assert_one_booking_one_reply(harness.conn, fake_whatsapp)


def test_a_connection_lost_after_whatsapp_accepted_is_not_retried(
    harness: Harness, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given WhatsApp takes the message but the answer never arrives
    fake_openai.add(Answer("Здравствуйте!"))
    fake_whatsapp.hang_up(after_accepting=True)
    body = harness.body("Привет")

    # When the message is processed, and redelivered
    assert harness.process(body) == pipeline.REPLY_FAILED
    assert harness.process(body) == pipeline.REPLY_FAILED

    # Then the customer got it exactly once
    assert sent_texts(fake_whatsapp) == ["Здравствуйте!"]
    assert len(fake_whatsapp.requests) == 1
    assert [item["state"] for item in _ledger(harness.conn)["reply"]] == ["unknown"]


def test_whatsapp_errors_are_retried_then_the_reply_waits_for_a_redelivery(
    harness: Harness, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given WhatsApp fails with 5xx and rate limits more times than the client retries
    fake_openai.add(Answer("Здравствуйте!"))
    fake_whatsapp.script(500, times=2)
    fake_whatsapp.script(400, 130429, times=2)
    body = harness.body("Привет")

    # When the message is processed: the client tries 4 times (3 retries), then gives up
    with pytest.raises(ReplyNotSent):
        harness.process(body)
    assert len(fake_whatsapp.requests) == 4
    ledger = _ledger(harness.conn)
    assert ledger["reply_status"] == "pending" and ledger["reply_attempts"] == 1
    assert "130429" in ledger["reply_error"]

    # Then the redelivery sends the saved reply (the model is not asked again)
    assert harness.process(body) == pipeline.REPLIED
    assert sent_texts(fake_whatsapp) == ["Здравствуйте!"]
    assert len(fake_openai.requests) == 1


def test_outside_the_24_hour_window_the_reply_is_recorded_as_failed_not_retried(
    harness: Harness, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    fake_openai.add(Answer("Здравствуйте!"))
    fake_whatsapp.script(400, 131047)
    body = harness.body("Привет")

    assert harness.process(body) == pipeline.REPLY_FAILED
    assert harness.process(body) == pipeline.REPLY_FAILED

    assert len(fake_whatsapp.requests) == 1
    ledger = _ledger(harness.conn)
    assert ledger["reply_status"] == "failed"
    assert "131047" in ledger["reply_error"]


def test_a_message_for_staff_has_nothing_to_send(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db, ai_enabled=False)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp), staff=StaffNotifier(None))

    assert harness.say("Привет") == pipeline.NO_REPLY

    assert _ledger(db)["reply_status"] == "none"
    assert fake_whatsapp.requests == []
