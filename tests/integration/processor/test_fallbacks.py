"""When the model cannot answer (outage, 429s, timeouts, garbage, no key, over budget)
the customer still gets a reply in their language, at zero tokens and zero cost; salons
with AI off and conversations with staff get no AI reply and the staff are notified."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from salonbot.conversation import handoff
from salonbot.conversation import store as conversations
from salonbot.cost.guard import DynamoCostGuard
from salonbot.cost.guard_protocol import UnlimitedReservation, UnlimitedSpend
from salonbot.db.connection import Connection
from salonbot.observability import MetricName, metrics
from salonbot.processing import pipeline
from salonbot.processing.staff import StaffNotifier
from salonbot.texts import phrases
from salonbot.time_budget import RESERVE_S, invocation
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, Failure, FakeOpenAI, Garbage, Slow, ToolCall
from tests.integration.moto_dynamodb import COST_TABLE, create_cost_table
from tests.integration.processor.harness import (
    CUSTOMER,
    NOW,
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


def _assistant_rows(conn: Connection) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT content, prompt_tokens, completion_tokens, cost, model FROM ai_messages "
        "WHERE role = 'assistant' ORDER BY id",
    )


@pytest.mark.parametrize(
    "failures",
    [
        [Failure(500), Failure(502), Failure(503)],
        [Failure(429, headers={"retry-after-ms": "5"})] * 3,
        [Garbage()],
        [Failure(401, "invalid api key")],
    ],
    ids=["5xx", "429", "garbage", "401"],
)
def test_a_model_outage_gets_the_fallback_reply_at_zero_cost(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, failures: list[Any]
) -> None:
    # Given a model that keeps failing (2 retries allowed)
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(*failures)
    metrics.clear_metrics()

    # When a Russian customer writes
    assert harness.say("Здравствуйте, хочу на маникюр") == pipeline.REPLIED

    # Then retryable failures were retried, others not, and the fallback answered
    assert len(fake_openai.requests) == len(failures)
    assert sent_texts(fake_whatsapp) == [phrases("ru")["fixed_reply"]]
    assert phrases("ru")["fixed_reply"].startswith("Извините, произошла ошибка...")
    (reply,) = _assistant_rows(db)
    assert (reply["prompt_tokens"], reply["completion_tokens"], reply["cost"]) == (0, 0, 0)
    assert reply["model"] is None
    assert MetricName.MODEL_FAILURES in metrics.metric_set
    assert MetricName.FALLBACKS in metrics.metric_set
    metrics.clear_metrics()


def test_a_retried_429_then_success_is_a_normal_answer(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(Failure(429, headers={"retry-after-ms": "5"}), Answer("Здравствуйте!"))

    harness.say("Привет")

    assert sent_texts(fake_whatsapp) == ["Здравствуйте!"]
    (reply,) = _assistant_rows(db)
    assert reply["prompt_tokens"] == fake_openai.requests[-1].prompt_tokens


def test_a_slow_model_times_out_and_an_english_customer_gets_the_english_fallback(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    settings = settings_for(fake_openai, fake_whatsapp, openai_timeout_s=0.2, openai_max_retries=0)
    harness = build_harness(db, settings)
    fake_openai.add(Slow(1.0, Answer("too late")))

    harness.say("Hello, can I book a manicure?")

    assert sent_texts(fake_whatsapp) == [phrases("en")["fixed_reply"]]


def test_a_failure_after_a_booking_still_confirms_the_booking(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model that books, then fails to word the answer
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp, openai_max_retries=0))
    fake_openai.add(
        Answer(tool_calls=[ToolCall("book", {"service": "manicure", "start": "2030-01-07 12:00"})]),
        Failure(500),
    )

    harness.say("Маникюр сегодня в 12:00")

    # Then the booking stands and the customer is told so, with its code
    (booking,) = rows(db, "SELECT code FROM bookings")
    assert sent_texts(fake_whatsapp) == [
        f"Готово! Вы записаны: Маникюр, 07.01 12:00, мастер Анна. Код записи: {booking['code']}."
    ]


def test_without_a_key_the_fallback_answers_and_the_log_says_why(
    db: Connection, fake_whatsapp: FakeWhatsApp, caplog: pytest.LogCaptureFixture
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(None, fake_whatsapp))
    assert harness.router.agent is None

    with caplog.at_level(logging.INFO):
        harness.say("Добрый день")
        harness.say("Хочу на маникюр")

    assert sent_texts(fake_whatsapp)[0] == phrases("ru")["fixed_reply"]
    # No key is the normal keyless mode: said once, as information, never as an error
    said = [r for r in caplog.records if "OPENAI_API_KEY is not configured" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in said] == [
        (logging.INFO, "OPENAI_API_KEY is not configured: the guided flow answers")
    ]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_cost_table(dynamodb)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="salonbot-staff")["TopicArn"]
        queue = sqs.create_queue(QueueName="staff-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield {"dynamodb": dynamodb, "sns": sns, "sqs": sqs, "topic": topic, "queue": queue}


def _staff_inbox(aws: dict[str, Any]) -> list[dict[str, Any]]:
    received = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)
    return [json.loads(json.loads(m["Body"])["Message"]) for m in received.get("Messages", [])]


def test_over_budget_the_model_is_not_called_and_the_fallback_answers(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, aws: dict[str, Any]
) -> None:
    # Given a salon whose daily budget cannot cover one model call
    import_demo_salon(db, daily_budget_usd=0.0001)
    guard = DynamoCostGuard(COST_TABLE, global_daily_budget_usd=None, client=aws["dynamodb"])
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp), guard=guard)

    harness.say("Хочу на маникюр")

    assert fake_openai.requests == []
    assert sent_texts(fake_whatsapp) == [phrases("ru")["fixed_reply"]]


def test_spend_is_reserved_then_reconciled_to_the_reported_cost(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, aws: dict[str, Any]
) -> None:
    salon = import_demo_salon(db)
    guard = DynamoCostGuard(COST_TABLE, global_daily_budget_usd=Decimal(50), client=aws["dynamodb"])
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp), guard=guard)
    fake_openai.add(Answer("Здравствуйте!", cached_tokens=100))

    harness.say("Привет")

    (reply,) = _assistant_rows(db)
    assert reply["cost"] > 0
    assert guard.spent_today(str(salon.id), salon.timezone) == reply["cost"]
    (stored,) = rows(db, "SELECT cached_tokens FROM ai_messages WHERE role = 'assistant'")
    assert stored["cached_tokens"] == 100


def test_ai_off_stores_the_message_for_staff_and_notifies_them(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, aws: dict[str, Any]
) -> None:
    # Given a salon with AI switched off
    salon = import_demo_salon(db, ai_enabled=False)
    harness = build_harness(
        db,
        settings_for(fake_openai, fake_whatsapp),
        staff=StaffNotifier(aws["topic"], client=aws["sns"]),
    )

    # When a customer writes
    assert harness.say("Можно записаться на субботу?") == pipeline.NO_REPLY

    # Then no model call, no reply, the message stored, the staff notified
    assert fake_openai.requests == [] and fake_whatsapp.requests == []
    assert rows(db, "SELECT role, content FROM ai_messages") == [
        {"role": "user", "content": "Можно записаться на субботу?"}
    ]
    (note,) = _staff_inbox(aws)
    assert note["reason"] == "ai_disabled"
    # (the customer by the last 4 digits of the phone, the message as a preview)
    assert (note["salon_id"], note["customer"]) == (str(salon.id), "…4567")
    assert (note["count"], note["preview"]) == (1, "Можно записаться на субботу?")


def test_a_handoff_quiets_the_assistant_but_never_leaves_the_customer_in_silence(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, aws: dict[str, Any]
) -> None:
    # Given a model that hands the conversation to staff when asked for a human
    import_demo_salon(db)
    harness = build_harness(
        db,
        settings_for(fake_openai, fake_whatsapp),
        staff=StaffNotifier(aws["topic"], client=aws["sns"]),
    )
    fake_openai.add(
        Answer(tool_calls=[ToolCall("handoff", {"reason": "asks for a manager"})]),
        Answer("Передаю ваш вопрос администратору."),
    )

    # When the customer asks for a person, then writes twice more within a minute
    harness.say("Позовите администратора")
    assert harness.say("Алло?") == pipeline.REPLIED
    assert harness.say("Вы тут?") == pipeline.NO_REPLY

    # Then the first message after the hand-off is told the staff will answer (and how
    # to get the bot back); the next, a moment later, waits for the staff; every message
    # reached the staff, the later ones counted for the next notification
    assert sent_texts(fake_whatsapp) == [
        "Передаю ваш вопрос администратору.",
        "Ваше сообщение у администратора, он ответит здесь. Чтобы вернуться к боту, "
        "напишите «меню».",
    ]
    assert [n["reason"] for n in _staff_inbox(aws)] == ["handoff"]
    assert rows(db, "SELECT count(*) AS n FROM ai_messages WHERE role = 'user'") == [{"n": 3}]
    (conversation,) = rows(db, "SELECT id, status, handoff_until FROM ai_conversations")
    assert conversation["status"] == "handoff"
    assert conversation["handoff_until"] == harness.clock.now + dt.timedelta(hours=24)

    # When a quarter of an hour passes without a staff reply, the customer is acknowledged
    harness.clock.now += dt.timedelta(minutes=15)
    assert harness.say("Ау") == pipeline.REPLIED
    assert sent_texts(fake_whatsapp)[-1].startswith("Получили, администратор скоро ответит.")

    # When staff release it, the assistant answers again
    assert handoff.end(db, conversation["id"])
    db.commit()
    fake_openai.add(Answer("Чем могу помочь?"))
    assert harness.say("Снова я") == pipeline.REPLIED
    assert sent_texts(fake_whatsapp)[-1] == "Чем могу помочь?"


def test_the_customers_menu_word_ends_the_handoff(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a conversation handed off to staff
    salon = import_demo_salon(db)
    conversation = conversations.open_conversation(db, salon.id, CUSTOMER)
    handoff.start(db, conversation.id, until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=5))
    db.commit()
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(Answer("Чем помочь? Вот меню."))

    # When the customer writes "Меню!"
    assert harness.say("Меню!") == pipeline.REPLIED

    # Then the bot answers it and the conversation is the bot's again
    assert sent_texts(fake_whatsapp) == ["Чем помочь? Вот меню."]
    (row,) = rows(db, "SELECT status, handoff_until FROM ai_conversations")
    assert row == {"status": "active", "handoff_until": None}


def test_an_expired_handoff_returns_to_the_assistant(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    salon = import_demo_salon(db)
    conversation = conversations.open_conversation(db, salon.id, CUSTOMER)
    handoff.start(db, conversation.id, until=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    db.commit()
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(Answer("Здравствуйте!"))

    assert harness.say("Привет") == pipeline.REPLIED
    (row,) = rows(db, "SELECT status, handoff_until FROM ai_conversations")
    assert row == {"status": "active", "handoff_until": None}


def test_a_nearly_spent_invocation_cuts_the_model_short_and_still_answers(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model slower than what is left of the Lambda invocation after the reserve
    import_demo_salon(db)
    settings = settings_for(fake_openai, fake_whatsapp, openai_timeout_s=10, openai_max_retries=3)
    harness = build_harness(db, settings)
    fake_openai.add(Slow(5.0, Answer("too late")))

    # When the message is processed with RESERVE_S + 1 s of the invocation left
    started = time.monotonic()
    with invocation(int((RESERVE_S + 1) * 1000)):
        harness.say("Hello, can I book a manicure?")

    # Then the model call was given up within that second and the customer answered
    assert time.monotonic() - started < 3.0
    assert sent_texts(fake_whatsapp) == [phrases("en")["fixed_reply"]]


class _FailingGuard(UnlimitedSpend):
    """A spend guard whose store throttles the operations named in `failing`."""

    def __init__(self, *failing: str) -> None:
        self.failing = set(failing)
        self.calls: list[str] = []

    def _maybe_fail(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.failing:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "TransactWriteItems",
            )

    def reserve(self, **kwargs: Any) -> UnlimitedReservation:
        self._maybe_fail("reserve")
        return super().reserve(**kwargs)

    def reconcile(self, reservation: UnlimitedReservation, actual_usd: Decimal) -> None:
        self._maybe_fail("reconcile")

    def release(self, reservation: UnlimitedReservation) -> None:
        self._maybe_fail("release")


def test_a_throttled_cost_guard_gets_the_fallback_reply_without_a_model_call(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a cost guard whose table throttles every reservation
    import_demo_salon(db)
    guard = _FailingGuard("reserve")
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp), guard=guard)

    # When a customer writes
    with caplog.at_level(logging.ERROR):
        assert harness.say("Хочу на маникюр") == pipeline.REPLIED

    # Then the model was not called, the fallback answered and the failure was logged
    assert fake_openai.requests == []
    assert sent_texts(fake_whatsapp) == [phrases("ru")["fixed_reply"]]
    assert "cost guard reserve failed" in caplog.text
    metrics.clear_metrics()


@pytest.mark.parametrize(
    ("failing", "steps", "expected"),
    [
        ("reconcile", [Answer("Здравствуйте!")], "Здравствуйте!"),
        ("release", [Failure(401, "invalid api key")], phrases("ru")["fixed_reply"]),
    ],
    ids=["reconcile", "release"],
)
def test_a_cost_guard_failure_after_the_model_call_keeps_the_turns_answer(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    caplog: pytest.LogCaptureFixture,
    failing: str,
    steps: list[Any],
    expected: str,
) -> None:
    # Given a cost guard that throttles after the model call
    import_demo_salon(db)
    guard = _FailingGuard(failing)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp), guard=guard)
    fake_openai.add(*steps)

    # When a customer writes
    with caplog.at_level(logging.ERROR):
        assert harness.say("Привет") == pipeline.REPLIED

    # Then the one model call's outcome is answered, and the failure logged, not retried
    assert guard.calls == ["reserve", failing]
    assert len(fake_openai.requests) == 1
    assert sent_texts(fake_whatsapp) == [expected]
    assert f"cost guard {failing} failed" in caplog.text
    metrics.clear_metrics()


@pytest.mark.parametrize("situation", ["ai_disabled", "with_staff"])
def test_a_failed_staff_notification_keeps_the_message_for_staff(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    aws: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    situation: str,
) -> None:
    # Given a message for staff (AI off, or the conversation handed off) and an SNS topic
    # that refuses the publish
    salon = import_demo_salon(db, ai_enabled=situation != "ai_disabled")
    if situation == "with_staff":
        conversation = conversations.open_conversation(db, salon.id, CUSTOMER, now=NOW)
        handoff.start(db, conversation.id, until=NOW + dt.timedelta(hours=1))
        db.commit()
    missing_topic = aws["topic"] + "-deleted"
    harness = build_harness(
        db,
        settings_for(fake_openai, fake_whatsapp),
        staff=StaffNotifier(missing_topic, client=aws["sns"]),
    )

    # When the customer writes
    with caplog.at_level(logging.ERROR):
        outcome = harness.say("Можно записаться на субботу?")

    # Then the message is stored for the staff (a handed-off customer is also told the
    # staff will answer), and the failure logged without the phone
    handed_off = situation == "with_staff"
    assert outcome == (pipeline.REPLIED if handed_off else pipeline.NO_REPLY)
    stored = rows(db, "SELECT role, content FROM ai_messages ORDER BY id")
    assert stored[0] == {"role": "user", "content": "Можно записаться на субботу?"}
    assert [m["role"] for m in stored[1:]] == (["assistant"] if handed_off else [])
    assert "staff notification failed" in caplog.text
    assert CUSTOMER not in caplog.text and CUSTOMER.lstrip("+") not in caplog.text
    metrics.clear_metrics()


def test_a_staff_reply_starts_the_handoff_and_keeps_the_acknowledgements_quiet(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    from salonbot.staff.handoff import staff_answering

    # Given a conversation the assistant had, and a staff reply to it
    salon = import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    conversation = conversations.open_conversation(db, salon.id, CUSTOMER)
    now = harness.clock.now
    staff_answering(db, conversation.id, until=now + dt.timedelta(hours=1), replied_at=now)
    db.commit()

    # When the customer answers at once, then again 20 minutes after the staff's reply
    assert harness.say("Спасибо, а можно на 12?") == pipeline.NO_REPLY
    harness.clock.now += dt.timedelta(minutes=20)
    assert harness.say("Жду ответа") == pipeline.REPLIED

    # Then the bot kept quiet while the staff were answering; with no staff reply for a
    # quarter of an hour the customer was told that the staff answer here
    assert sent_texts(fake_whatsapp) == [phrases("ru")["handoff_wait"]]
    (row,) = rows(db, "SELECT status FROM ai_conversations")
    assert row["status"] == "handoff"
