"""The per-customer throttle in DynamoDB (moto): 10 messages a minute reach the assistant,
the 11th gets one notice, later ones nothing, the next window is open again, and a
redelivered message is never counted twice; through the queue processor and the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.assistant.base import TurnInput, TurnResult
from salonbot.assistant.throttle import CustomerThrottle, throttle_from_settings
from salonbot.db.connection import Connection
from salonbot.processing.pipeline import MessageProcessor
from salonbot.texts import phrases
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.moto_dynamodb import create_cost_table
from tests.integration.processor.harness import (
    CUSTOMER,
    OTHER_CUSTOMER,
    Harness,
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration

TABLE = "salonbot-rate-limit"
SALON = "3f0c1a52-0000-4000-8000-000000000001"
# The start of a window: 12:00:00 UTC (a multiple of 60 s).
T0 = dt.datetime(2030, 1, 7, 12, 0, tzinfo=dt.UTC).timestamp()


class Seconds:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_cost_table(client, TABLE)  # same shape: hash key `pk`, TTL `expires_at`
        yield client


@pytest.fixture
def fake_whatsapp() -> Iterator[FakeWhatsApp]:
    fake = start_fake_whatsapp(out=None)
    yield fake
    fake.stop()


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


def throttle(client: Any, clock: Seconds, **kw: Any) -> CustomerThrottle:
    return CustomerThrottle(TABLE, client=client, clock=clock, **kw)


def verdicts(t: CustomerThrottle, ids: list[str], phone: str = CUSTOMER) -> list[str]:
    return [t.check(SALON, phone, i).verdict for i in ids]


# -- the counter ----------------------------------------------------------------------------


def test_eleventh_gets_the_notice_twelfth_nothing_next_window_open(
    dynamodb: Any, seconds: Seconds
) -> None:
    t = throttle(dynamodb, seconds)
    got = []
    for i in range(12):
        seconds.now = T0 + i * 4  # 12 messages within 48 s
        got.append(t.check(SALON, CUSTOMER, f"wamid.{i}").verdict)
    assert got == ["allow"] * 10 + ["notice", "silent"]
    # Another customer of the same salon is not affected
    assert verdicts(t, ["wamid.other"], OTHER_CUSTOMER) == ["allow"]
    # The next window starts afresh
    seconds.now = T0 + 60
    assert verdicts(t, [f"wamid.next.{i}" for i in range(11)]) == ["allow"] * 10 + ["notice"]


def test_a_redelivered_message_is_not_counted_twice(dynamodb: Any, seconds: Seconds) -> None:
    t = throttle(dynamodb, seconds)
    assert verdicts(t, [f"wamid.{i}" for i in range(9)]) == ["allow"] * 9
    # wamid.8 arrives again (an SQS redelivery): same verdict, not counted
    assert verdicts(t, ["wamid.8", "wamid.8"]) == ["allow", "allow"]
    assert verdicts(t, ["wamid.9", "wamid.10"]) == ["allow", "notice"]
    # The notice's message redelivered still gets the notice (its reply was never sent);
    # a silenced one stays silent
    assert verdicts(t, ["wamid.10", "wamid.11", "wamid.11"]) == ["notice", "silent", "silent"]


def test_forget_opens_the_current_window_for_that_customer_only(
    dynamodb: Any, seconds: Seconds
) -> None:
    # Given two customers over the limit in this window (salonbot doctor's sandbox one)
    t = throttle(dynamodb, seconds, limit=2)
    verdicts(t, ["a.1", "a.2", "a.3"])
    verdicts(t, ["b.1", "b.2", "b.3"], OTHER_CUSTOMER)

    # When the first is forgotten
    t.forget(SALON, CUSTOMER)

    # Then that customer's next messages are counted afresh; the other stays throttled
    assert verdicts(t, ["a.4", "a.5", "a.6"]) == ["allow", "allow", "notice"]
    assert verdicts(t, ["b.4"], OTHER_CUSTOMER) == ["silent"]


def test_window_item_is_bounded_and_expires(dynamodb: Any, seconds: Seconds) -> None:
    t = throttle(dynamodb, seconds, limit=3, window_s=60)
    verdicts(t, [f"wamid.{i}" for i in range(50)])
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    assert item["n"] == {"N": "4"}  # counting stops at the notice
    assert len([k for k in item if k.startswith("m#")]) == 4
    assert int(item["expires_at"]["N"]) == int(T0) + 120
    assert item["pk"]["S"] == f"rate#{SALON}#{CUSTOMER}#{int(T0)}"


def test_retry_after_is_the_rest_of_the_window(dynamodb: Any, seconds: Seconds) -> None:
    t = throttle(dynamodb, seconds, limit=1)
    seconds.now = T0 + 45.5
    t.check(SALON, CUSTOMER, "a")
    decision = t.check(SALON, CUSTOMER, "b")
    assert (decision.verdict, decision.retry_after_s) == ("notice", 15)


def test_dynamodb_outage_lets_messages_through(seconds: Seconds) -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")  # no table
        t = throttle(client, seconds, limit=1)
        assert verdicts(t, ["a", "b", "c"]) == ["allow", "allow", "allow"]


def test_off_without_a_table() -> None:
    assert throttle_from_settings(settings_for(None, FakeWhatsApp())) is None


# -- through the queue processor ------------------------------------------------------------


@pytest.fixture
def harness(
    db: Connection, fake_whatsapp: FakeWhatsApp, dynamodb: Any, seconds: Seconds
) -> Harness:
    import_demo_salon(db)
    h = build_harness(db, settings_for(None, fake_whatsapp))
    h.processor = MessageProcessor(
        h.settings,
        assistant=h.router,
        whatsapp=h.whatsapp,
        staff=h.staff,
        connection=lambda: db,
        clock=h.clock,
        throttle=throttle(dynamodb, seconds),
    )
    return h


def user_messages(db: Connection) -> int:
    return int(rows(db, "SELECT count(*) AS n FROM ai_messages WHERE role = 'user'")[0]["n"])


def test_processor_eleventh_message_gets_one_notice_twelfth_no_reply(
    harness: Harness, fake_whatsapp: FakeWhatsApp, seconds: Seconds, db: Connection
) -> None:
    outcomes = [harness.say(f"Привет {i}") for i in range(12)]
    assert outcomes == ["replied"] * 11 + ["no_reply"]
    texts = sent_texts(fake_whatsapp)
    assert len(texts) == 11
    assert texts[-1] == phrases("ru")["throttled"]
    assert phrases("ru")["throttled"] not in texts[:10]
    # Every message is stored for the conversation, the notice as the reply
    assert user_messages(db) == 12
    # Next window: the assistant answers again
    seconds.now = T0 + 60
    assert harness.say("Хочу записаться") == "replied"
    assert sent_texts(fake_whatsapp)[-1] != phrases("ru")["throttled"]


def test_processor_notice_in_the_customers_language(
    harness: Harness, fake_whatsapp: FakeWhatsApp
) -> None:
    for i in range(11):
        harness.say(f"Hi, can I book a haircut? {i}")
    assert sent_texts(fake_whatsapp)[-1] == phrases("en")["throttled"]


def test_processor_redelivery_is_not_counted_twice(
    harness: Harness, fake_whatsapp: FakeWhatsApp, dynamodb: Any
) -> None:
    body = harness.body("Привет", wamid="wamid.same")
    assert [harness.process(body) for _ in range(3)] == ["replied"] * 3
    assert len(sent_texts(fake_whatsapp)) == 1
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    assert item["n"] == {"N": "1"}


class FailsOnce:
    """An engine that crashes the first message (before commit), then answers."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("crash after counting, before commit")
        result: TurnResult = self.inner.respond(conn, turn)
        return result


def test_redelivery_after_a_crash_before_commit_is_not_counted_twice(
    db: Connection, fake_whatsapp: FakeWhatsApp, dynamodb: Any, seconds: Seconds
) -> None:
    import_demo_salon(db)
    h = build_harness(db, settings_for(None, fake_whatsapp))
    engine = FailsOnce(h.router)
    h.processor = MessageProcessor(
        h.settings,
        assistant=engine,
        whatsapp=h.whatsapp,
        staff=h.staff,
        connection=lambda: db,
        clock=h.clock,
        throttle=throttle(dynamodb, seconds, limit=1),
    )
    body = h.body("Привет", wamid="wamid.crash")
    with pytest.raises(RuntimeError):
        h.process(body)
    # SQS redelivers: the message is processed from scratch, and still the first of its
    # window (limit 1): the assistant answers, no notice
    assert h.process(body) == "replied"
    assert engine.calls == 2
    assert sent_texts(fake_whatsapp)[-1] != phrases("ru")["throttled"]
    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    assert item["n"] == {"N": "1"}
