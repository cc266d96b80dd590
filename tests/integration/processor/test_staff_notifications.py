"""Customer messages for staff (AI off for the salon, or the conversation handed off)
through the queue processor, with SNS and SQS in moto observing what staff receive: the
throttle applies to them like to any message, notifications collapse per conversation
(one per STAFF_NOTIFY_INTERVAL_MINUTES, with a count), carry the salon as the `salon_id`
message attribute that subscriptions filter on, and never the customer's phone number."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.assistant.throttle import CustomerThrottle
from salonbot.booking.catalog import Salon
from salonbot.conversation import handoff
from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection
from salonbot.processing import pipeline
from salonbot.processing.pipeline import MessageProcessor
from salonbot.processing.staff import StaffNotifier
from salonbot.texts import phrases
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, ToolCall
from tests.integration.moto_dynamodb import create_cost_table
from tests.integration.processor.harness import (
    CUSTOMER,
    NOW,
    OTHER_CUSTOMER,
    Harness,
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
RATE_TABLE = "salonbot-rate-limit"
OTHER_SALON_ID = "3f0c1a52-0000-4000-8000-0000000000c2"
OTHER_NUMBER_ID = "100000000000002"
PREVIEW_LIMIT = 100  # characters of the message a notification carries (documented)


class Staff:
    """The staff topic in moto, an SQS queue per subscription to watch it."""

    def __init__(self) -> None:
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.topic = self.sns.create_topic(Name="salonbot-staff")["TopicArn"]
        self.everything = self.subscribe("all-salons")

    def subscribe(self, name: str, filter_policy: dict[str, Any] | None = None) -> str:
        queue = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        return queue

    def received(self, queue: str | None = None) -> list[dict[str, Any]]:
        """SNS envelopes delivered to the queue (all of them, draining it)."""
        queue = queue or self.everything
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return found
            found += [json.loads(m["Body"]) for m in messages]
            self.sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )

    def notes(self, queue: str | None = None) -> list[dict[str, Any]]:
        return [json.loads(envelope["Message"]) for envelope in self.received(queue)]


@pytest.fixture
def staff() -> Iterator[Staff]:
    with mock_aws():
        watched = Staff()
        create_cost_table(watched.dynamodb, RATE_TABLE)  # the rate-limit table's shape
        yield watched


def processor_for(db: Connection, staff: Staff, fake_whatsapp: FakeWhatsApp, **kw: Any) -> Harness:
    """The processor as production wires it: the staff topic, the per-customer throttle
    (10 a minute) in DynamoDB, one clock for the turn and the throttle."""
    fake_openai: FakeOpenAI | None = kw.pop("fake_openai", None)
    h = build_harness(
        db,
        settings_for(fake_openai, fake_whatsapp, **kw),
        staff=StaffNotifier(
            staff.topic, client=staff.sns, console_url="https://console.example/console/"
        ),
    )
    h.processor = MessageProcessor(
        h.settings,
        assistant=h.router,
        whatsapp=h.whatsapp,
        staff=h.staff,
        connection=lambda: db,
        clock=h.clock,
        throttle=CustomerThrottle(
            RATE_TABLE, client=staff.dynamodb, clock=lambda: h.clock.now.timestamp()
        ),
    )
    return h


def hand_off(db: Connection, salon: Salon, phone: str = CUSTOMER) -> None:
    conversation = conversations.open_conversation(db, salon.id, phone, now=NOW)
    handoff.start(db, conversation.id, until=NOW + dt.timedelta(days=1))
    db.commit()


def for_staff(db: Connection, situation: str) -> Salon:
    """The demo salon with a customer whose messages go to staff: AI off, or handed off."""
    salon = import_demo_salon(db, ai_enabled=situation != "ai_disabled")
    if situation == "with_staff":
        hand_off(db, salon)
    return salon


def user_messages(db: Connection) -> int:
    return int(rows(db, "SELECT count(*) AS n FROM ai_messages WHERE role = 'user'")[0]["n"])


@pytest.mark.parametrize("situation", ["ai_disabled", "with_staff"])
def test_sixty_messages_over_half_an_hour_give_three_notifications_with_counts(
    db: Connection, fake_whatsapp: FakeWhatsApp, staff: Staff, situation: str
) -> None:
    # Given a customer whose messages go to staff, and notifications every 10 minutes
    for_staff(db, situation)
    h = processor_for(db, staff, fake_whatsapp)

    # When they write 60 messages, one every 30 seconds (under the throttle's limit)
    outcomes = []
    for i in range(60):
        h.clock.now = NOW + dt.timedelta(seconds=30 * i)
        outcomes.append(h.say(f"Ответьте пожалуйста {i}"))

    # Then AI off, nothing answers; handed off, the customer is told at once that the
    # staff will answer and acknowledged again every 15 minutes without a staff reply
    acknowledged = {0, 30} if situation == "with_staff" else set()
    assert outcomes == [
        pipeline.REPLIED if i in acknowledged else pipeline.NO_REPLY for i in range(60)
    ]

    # Then staff got one notification at once and one every 10 minutes after, each
    # counting the messages since the previous one; every message is stored
    notes = staff.notes()
    assert [n["count"] for n in notes] == [1, 20, 20]
    assert [n["reason"] for n in notes] == [situation] * 3
    assert [n["preview"] for n in notes] == [f"Ответьте пожалуйста {i}" for i in (0, 20, 40)]
    assert notes[1]["summary"] == "20 new messages from …4567"
    # each links to the staff console's inbox, where the conversation waits
    assert {n["console"] for n in notes} == {"https://console.example/console/#inbox"}
    assert user_messages(db) == 60
    # The 19 since the last are counted for the next notification
    h.clock.now = NOW + dt.timedelta(minutes=31)
    h.say("Алло?")
    assert [n["count"] for n in staff.notes()] == [20]
    texts = phrases("ru")
    assert sent_texts(fake_whatsapp) == (
        [texts["handoff_wait"], texts["handoff_ack"], texts["handoff_ack"]]
        if situation == "with_staff"
        else []
    )


@pytest.mark.parametrize("situation", ["ai_disabled", "with_staff"])
def test_a_burst_for_staff_is_throttled_like_any_message(
    db: Connection, fake_whatsapp: FakeWhatsApp, staff: Staff, situation: str
) -> None:
    # Given a customer whose messages go to staff
    for_staff(db, situation)
    h = processor_for(db, staff, fake_whatsapp)

    # When they send 60 messages in the same minute
    outcomes = [h.say(f"Срочно {i}") for i in range(60)]

    # Then the throttle's limit and notice apply: the 11th gets the notice, the rest
    # nothing, and staff one notification; every message is stored for staff. Handed
    # off, the first is also told the staff will answer
    texts = phrases("ru")
    first = [texts["handoff_wait"]] if situation == "with_staff" else []
    first_outcome = pipeline.REPLIED if first else pipeline.NO_REPLY
    assert (
        outcomes
        == [first_outcome] + [pipeline.NO_REPLY] * 9 + [pipeline.REPLIED] + [pipeline.NO_REPLY] * 49
    )
    assert sent_texts(fake_whatsapp) == [*first, texts["throttled"]]
    assert [n["count"] for n in staff.notes()] == [1]
    assert user_messages(db) == 60
    assert rows(db, "SELECT content FROM ai_messages WHERE role = 'assistant' ORDER BY id") == [
        {"content": text} for text in [*first, texts["throttled"]]
    ]
    # A message after the interval notifies again, counting all that waited
    h.clock.now = NOW + dt.timedelta(minutes=10)
    h.say("Вы тут?")
    (note,) = staff.notes()
    assert (note["count"], note["preview"]) == (60, "Вы тут?")


def test_notifications_carry_the_salon_and_reach_only_its_subscribers(
    db: Connection, fake_whatsapp: FakeWhatsApp, staff: Staff
) -> None:
    # Given two salons with AI off, and each salon's staff subscribed with a filter policy
    salon_a = import_demo_salon(db, ai_enabled=False)
    salon_b = import_demo_salon(
        db,
        id=OTHER_SALON_ID,
        name="Other Studio",
        whatsapp_phone_number_id=OTHER_NUMBER_ID,
        ai_enabled=False,
    )
    inbox_a = staff.subscribe("salon-a", {"salon_id": [str(salon_a.id)]})
    inbox_b = staff.subscribe("salon-b", {"salon_id": [str(salon_b.id)]})
    h = processor_for(db, staff, fake_whatsapp)

    # When a customer of salon B writes
    h.say("Здравствуйте", phone=OTHER_CUSTOMER, phone_number_id=OTHER_NUMBER_ID)

    # Then salon A's staff receive nothing, salon B's one notification naming salon B in
    # its message attribute
    assert staff.received(inbox_a) == []
    (envelope,) = staff.received(inbox_b)
    assert envelope["MessageAttributes"]["salon_id"] == {
        "Type": "String",
        "Value": str(salon_b.id),
    }
    assert json.loads(envelope["Message"])["salon_id"] == str(salon_b.id)

    # And a customer of salon A reaches salon A's staff only
    h.say("Добрый день")
    assert staff.received(inbox_b) == []
    (envelope,) = staff.received(inbox_a)
    assert envelope["MessageAttributes"]["salon_id"]["Value"] == str(salon_a.id)


def test_no_notification_carries_the_phone_number_or_the_whole_text(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, staff: Staff
) -> None:
    # Given a model that hands the conversation off, then messages for staff over an hour
    import_demo_salon(db)
    h = processor_for(db, staff, fake_whatsapp, fake_openai=fake_openai)
    fake_openai.add(
        Answer(tool_calls=[ToolCall("handoff", {"reason": "asks for a manager"})]),
        Answer("Передаю ваш вопрос администратору."),
    )
    long_text = "Мой номер +79001234567, перезвоните. " + "подробности " * 60
    h.say("Позовите администратора")
    for i in range(6):
        h.clock.now = NOW + dt.timedelta(minutes=11 * (i + 1))
        h.say(long_text)

    # Then every notification names the customer by the last 4 digits at most, carries
    # a short preview of the message, and neither the phone nor the conversation id
    envelopes = staff.received()
    assert len(envelopes) == 7
    phone_digits = CUSTOMER.lstrip("+")
    for envelope in envelopes:
        note = json.loads(envelope["Message"])
        assert note["customer"] == "…4567"
        assert len(note["preview"]) <= PREVIEW_LIMIT
        raw = envelope["Subject"] + envelope["Message"] + json.dumps(envelope["MessageAttributes"])
        assert not re.search(phone_digits[:-4] + "|" + phone_digits[-5:], raw)
        assert "conv_" not in raw
    assert json.loads(envelopes[0]["Message"])["reason"] == "handoff"
    assert envelopes[1]["Subject"] == "salonbot: a new message from ...4567"


def test_a_handoff_notifies_at_once_and_later_messages_collapse(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, staff: Staff
) -> None:
    # Given a conversation for staff notified a minute ago (AI off), then AI back on
    salon = import_demo_salon(db, ai_enabled=False)
    h = processor_for(db, staff, fake_whatsapp, fake_openai=fake_openai)
    h.say("Здравствуйте")
    db.execute("UPDATE salons SET ai_enabled = true WHERE id = %s", (salon.id,))
    db.commit()
    assert [n["reason"] for n in staff.notes()] == ["ai_disabled"]

    # When the model hands the conversation off a minute later, and the customer writes on
    fake_openai.add(
        Answer(tool_calls=[ToolCall("handoff", {"reason": "asks for a manager"})]),
        Answer("Передаю ваш вопрос администратору."),
    )
    h.clock.now = NOW + dt.timedelta(minutes=1)
    h.say("Позовите администратора")
    h.say("Алло?")
    h.say("Есть кто?")

    # Then the hand-off is notified at once; the next two wait for the interval
    assert [(n["reason"], n["count"]) for n in staff.notes()] == [("handoff", 1)]
    h.clock.now = NOW + dt.timedelta(minutes=11)
    h.say("Жду ответа")
    assert [(n["reason"], n["count"]) for n in staff.notes()] == [("with_staff", 3)]


def test_an_interval_of_zero_notifies_every_message(
    db: Connection, fake_whatsapp: FakeWhatsApp, staff: Staff
) -> None:
    import_demo_salon(db, ai_enabled=False)
    h = processor_for(db, staff, fake_whatsapp, staff_notify_interval_minutes=0)
    for i in range(3):
        h.say(f"Сообщение {i}")
    assert [n["count"] for n in staff.notes()] == [1, 1, 1]


class FailsFirst:
    """An SNS client whose first publish fails."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def publish(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("SNS unavailable")
        return self.inner.publish(**kwargs)


def test_a_failed_notification_is_retried_by_the_next_message_with_its_count(
    db: Connection, fake_whatsapp: FakeWhatsApp, staff: Staff
) -> None:
    # Given AI off and an SNS outage for the first publish
    import_demo_salon(db, ai_enabled=False)
    h = processor_for(db, staff, fake_whatsapp)
    h.processor = MessageProcessor(
        h.settings,
        assistant=h.router,
        whatsapp=h.whatsapp,
        staff=StaffNotifier(staff.topic, client=FailsFirst(staff.sns)),  # type: ignore[arg-type]
        connection=lambda: db,
        clock=h.clock,
    )

    # When two messages arrive a minute apart
    assert h.say("Первое") == pipeline.NO_REPLY
    h.clock.now = NOW + dt.timedelta(minutes=1)
    assert h.say("Второе") == pipeline.NO_REPLY

    # Then both are stored, and the second's notification counts both
    assert user_messages(db) == 2
    (note,) = staff.notes()
    assert (note["count"], note["preview"]) == (2, "Второе")
