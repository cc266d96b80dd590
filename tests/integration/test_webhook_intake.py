"""The webhook against SQS FIFO and DynamoDB on a moto server, over real HTTP on
127.0.0.1: one SQS message per WhatsApp message id however often and however
concurrently Meta posts it, 5xx (and nothing half-done) when a store fails."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from salonbot.inbound.dedupe import Claim, DynamoSeenMessages
from salonbot.inbound.enqueue import SqsEventQueue
from salonbot.inbound.http import WebhookEndpoint, WebhookSecrets
from salonbot.inbound.intake import WebhookIntake
from salonbot.observability import MetricName, metrics
from salonbot.whatsapp.events import InboundMessage, QueueEnvelope, StatusUpdate
from salonbot_dev.local.moto_server import FAKE_CREDENTIALS
from tests.fakes.meta_webhook import (
    APP_SECRET,
    NOW,
    VERIFY_TOKEN,
    body_of,
    change_value,
    message,
    payload,
    post_event,
    status,
    text_payload,
)
from tests.integration.moto_dynamodb import serialized_dynamodb

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
DAY = 86_400.0
ATTEMPTS = 2
FAST = Config(
    retries={"mode": "standard", "total_max_attempts": ATTEMPTS}, connect_timeout=1, read_timeout=5
)


def client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        config=FAST,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Aws:
    url: str
    sqs: Any
    dynamodb: Any
    queue_name: str
    queue_url: str
    table: str
    # SendMessageBatch entries per deduplication id, counted on the client's way out.
    sends: Counter[str] = field(default_factory=Counter)

    def count_sends(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", []):
            self.sends[entry["MessageDeduplicationId"]] += 1

    def create_queue(self) -> str:
        self.queue_url = self.sqs.create_queue(
            QueueName=self.queue_name,
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
        )["QueueUrl"]
        return self.queue_url

    def drain(self) -> list[dict[str, Any]]:
        """Every message on the queue (received and deleted)."""
        found: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not batch:
                return found
            for item in batch:
                found.append(item)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=item["ReceiptHandle"]
                )

    def records(self) -> dict[str, str]:
        items = self.dynamodb.scan(TableName=self.table)["Items"]
        # Message-id claims only (the table also holds each customer's latest message).
        return {item["id"]["S"]: item["status"]["S"] for item in items if "status" in item}


@pytest.fixture
def aws(moto_url: str) -> Aws:
    name = uuid.uuid4().hex[:12]
    aws = Aws(
        moto_url,
        client("sqs", moto_url),
        client("dynamodb", moto_url),
        f"inbound-{name}.fifo",
        "",
        f"idempotency-{name}",
    )
    aws.create_queue()
    # The table as the template declares it: Powertools idempotency's layout.
    aws.dynamodb.create_table(
        TableName=aws.table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws.dynamodb.update_time_to_live(
        TableName=aws.table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
    )
    aws.sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", aws.count_sends)
    return aws


def webhook(
    aws: Aws,
    clock: Clock | None = None,
    *,
    max_message_age_s: int = 86_400,
    sqs: Any = None,
    dynamodb: Any = None,
) -> WebhookEndpoint:
    intake = WebhookIntake(
        seen=DynamoSeenMessages(aws.table, client=dynamodb or aws.dynamodb),
        queue=SqsEventQueue(aws.queue_url, client=sqs or aws.sqs),
        max_message_age_s=max_message_age_s,
        clock=clock or Clock(),
    )
    return WebhookEndpoint(
        intake=lambda: intake, secrets=lambda: WebhookSecrets(APP_SECRET, VERIFY_TOKEN)
    )


def post(endpoint: WebhookEndpoint, data: dict[str, Any], **kwargs: Any) -> int:
    status_code: int = endpoint.handle(post_event(body_of(data), **kwargs))["statusCode"]
    return status_code


def test_a_text_message_becomes_one_fifo_message_for_its_customer(aws: Aws) -> None:
    # When Meta posts a signed text message
    assert post(webhook(aws), text_payload("wamid.ONE")) == 200
    # Then one SQS message carries it, grouped by salon number and customer
    (queued,) = aws.drain()
    assert queued["Attributes"]["MessageGroupId"] == "100000000000001:79001234567"
    assert queued["Attributes"]["MessageDeduplicationId"] == "wamid.ONE"
    envelope = QueueEnvelope.model_validate_json(queued["Body"])
    assert isinstance(envelope.event, InboundMessage)
    assert (envelope.event.message_id, envelope.event.text) == (
        "wamid.ONE",
        "Привет! Хочу записаться на маникюр",
    )
    # and the id is recorded as accepted, for longer than Meta retries (7 days)
    item = aws.dynamodb.get_item(TableName=aws.table, Key={"id": {"S": "wamid#wamid.ONE"}})["Item"]
    assert item["status"]["S"] == "COMPLETED"
    assert int(item["expiration"]["N"]) >= NOW + 7 * DAY


def test_the_same_message_posted_five_times_is_enqueued_once(aws: Aws) -> None:
    endpoint = webhook(aws)
    answers = [post(endpoint, text_payload("wamid.SEQ")) for _ in range(5)]
    assert answers == [200] * 5
    assert len(aws.drain()) == 1
    # Not left to SQS's own 5-minute deduplication: the queue was asked once
    assert aws.sends == Counter({"wamid.SEQ": 1})


def test_five_concurrent_posts_of_one_message_enqueue_it_once(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB serializing conflicting writes to one item, as the service does
    with serialized_dynamodb(monkeypatch):
        endpoint = webhook(aws)
        start = threading.Barrier(5)
        answers: list[int] = []

        def deliver() -> None:
            start.wait()
            answers.append(post(endpoint, text_payload("wamid.RACE")))

        threads = [threading.Thread(target=deliver) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Then each got 200, or 503 while another held the id (Meta retries those)
        assert sorted(set(answers)) <= [200, 503] and 200 in answers
        assert aws.sends == Counter({"wamid.RACE": 1})
        # and Meta's retries of the 503s are acked without a second message
        assert post(endpoint, text_payload("wamid.RACE")) == 200
    assert len(aws.drain()) == 1
    assert aws.sends == Counter({"wamid.RACE": 1})


def test_a_repeat_a_day_later_is_not_enqueued_again(aws: Aws) -> None:
    clock = Clock(NOW)
    endpoint = webhook(aws, clock, max_message_age_s=int(3 * DAY))
    assert post(endpoint, text_payload("wamid.DAY", timestamp=NOW - 5)) == 200
    # When Meta delivers it again a day later, long after SQS's 5-minute window
    clock.now = NOW + DAY
    assert post(endpoint, text_payload("wamid.DAY", timestamp=NOW - 5)) == 200
    assert len(aws.drain()) == 1
    assert aws.sends == Counter({"wamid.DAY": 1})
    # Once the record has expired (past Meta's retries) the id is new again
    clock.now = NOW + 9 * DAY
    endpoint = webhook(aws, clock, max_message_age_s=int(10 * DAY))
    assert post(endpoint, text_payload("wamid.DAY", timestamp=NOW - 5)) == 200
    assert aws.sends == Counter({"wamid.DAY": 2})


@pytest.mark.parametrize("secret", [None, "not-the-app-secret"])
def test_an_unsigned_or_wrongly_signed_post_is_refused_and_enqueues_nothing(
    aws: Aws, secret: str | None
) -> None:
    assert post(webhook(aws), text_payload("wamid.FORGED"), secret=secret) == 401
    assert aws.drain() == [] and aws.sends == Counter() and aws.records() == {}


def test_sqs_outage_gives_503_and_a_later_retry_enqueues_once(aws: Aws) -> None:
    endpoint = webhook(aws)
    # Given the queue is gone
    aws.sqs.delete_queue(QueueUrl=aws.queue_url)
    # When Meta posts, the answer makes it retry, and the claim is released
    assert post(endpoint, text_payload("wamid.OUTAGE")) == 503
    assert aws.records() == {}
    # When the queue is back, Meta's retry is enqueued, once
    assert aws.create_queue() == aws.queue_url
    assert post(endpoint, text_payload("wamid.OUTAGE")) == 200
    assert post(endpoint, text_payload("wamid.OUTAGE")) == 200
    assert len(aws.drain()) == 1
    assert aws.records() == {"wamid#wamid.OUTAGE": "COMPLETED"}


def test_sqs_endpoint_down_gives_503(aws: Aws) -> None:
    unreachable = client("sqs", "http://127.0.0.1:9")
    endpoint = webhook(aws, sqs=unreachable)
    assert post(endpoint, text_payload("wamid.DOWN")) == 503
    assert aws.records() == {}
    # The same POST against a reachable queue goes through
    assert post(webhook(aws), text_payload("wamid.DOWN")) == 200
    assert len(aws.drain()) == 1


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def throttle(request: Any, **_: Any) -> AWSResponse:
    """DynamoDB's answer when a partition is over its throughput."""
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded",
        }
    ).encode()
    headers = {"x-amzn-RequestId": "throttled", "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(request.url, 400, headers, _Raw(body))


def test_dynamodb_throttling_gives_503_and_nothing_half_done(aws: Aws) -> None:
    throttled = client("dynamodb", aws.url)
    calls: list[str] = []

    def throttle_all(request: Any, **kwargs: Any) -> AWSResponse:
        calls.append(request.headers.get("X-Amz-Target", b"").decode())
        return throttle(request, **kwargs)

    throttled.meta.events.register("before-send.dynamodb", throttle_all)
    # When DynamoDB throttles every attempt
    assert post(webhook(aws, dynamodb=throttled), text_payload("wamid.THROTTLED")) == 503
    # Then the SDK retried with backoff, and nothing reached the queue or the table
    assert len(calls) == ATTEMPTS
    assert aws.sends == Counter() and aws.records() == {}
    # When Meta retries after the throttling is over, the message is enqueued once
    endpoint = webhook(aws)
    assert post(endpoint, text_payload("wamid.THROTTLED")) == 200
    assert post(endpoint, text_payload("wamid.THROTTLED")) == 200
    assert len(aws.drain()) == 1


def test_a_missing_dedupe_table_gives_503_and_enqueues_nothing(aws: Aws) -> None:
    endpoint = webhook(aws)
    aws.dynamodb.delete_table(TableName=aws.table)
    assert post(endpoint, text_payload("wamid.NOTABLE")) == 503
    assert aws.sends == Counter() and aws.drain() == []


def test_a_stale_message_is_queued_marked_stale_with_a_metric(aws: Aws) -> None:
    # A day-old message is not to be answered, but it is kept for the staff (by the
    # processor), where it used to be dropped here.
    metrics.clear_metrics()
    data = payload(
        change_value(
            [
                message(message_id="wamid.OLD", timestamp=NOW - DAY - 60),
                message(message_id="wamid.NEW", timestamp=NOW - 60),
            ]
        )
    )
    assert post(webhook(aws), data) == 200
    queued = [QueueEnvelope.model_validate_json(m["Body"]) for m in aws.drain()]
    assert [(e.event.message_id, e.stale) for e in queued] == [
        ("wamid.OLD", True),
        ("wamid.NEW", False),
    ]
    assert metrics.metric_set[MetricName.STALE_MESSAGES]["Value"] == [1.0]
    # and it is deduplicated like any message: a repeat is not queued again
    assert aws.records()["wamid#wamid.OLD"] == "COMPLETED"
    assert post(webhook(aws), data) == 200
    assert aws.drain() == []
    metrics.clear_metrics()


def test_status_updates_are_enqueued(aws: Aws) -> None:
    failed = status("failed", errors=[{"code": 131026, "title": "Message undeliverable"}])
    data = payload(change_value(statuses=[status("sent"), status("delivered"), failed]))
    assert post(webhook(aws), data) == 200
    queued = aws.drain()
    events = [QueueEnvelope.model_validate_json(m["Body"]).event for m in queued]
    assert all(isinstance(e, StatusUpdate) for e in events)
    assert [(e.status, getattr(e, "error_code", None)) for e in events] == [
        ("sent", None),
        ("delivered", None),
        ("failed", 131026),
    ]
    assert [m["Attributes"]["MessageDeduplicationId"] for m in queued] == [
        "wamid.OUTGOING1:sent",
        "wamid.OUTGOING1:delivered",
        "wamid.OUTGOING1:failed",
    ]


def test_an_unknown_message_type_is_kept(aws: Aws) -> None:
    data = payload(change_value([message("hologram", {"frames": 3}, message_id="wamid.NEWTYPE")]))
    assert post(webhook(aws), data) == 200
    (queued,) = aws.drain()
    event = QueueEnvelope.model_validate_json(queued["Body"]).event
    assert isinstance(event, InboundMessage)
    assert (event.type, event.payload) == ("hologram", {"frames": 3})


def test_twelve_messages_in_one_post_go_in_two_batches_in_order(aws: Aws) -> None:
    messages = [message(message_id=f"wamid.B{n:02}") for n in range(12)]
    assert post(webhook(aws), payload(change_value(messages))) == 200
    queued = [QueueEnvelope.model_validate_json(m["Body"]).event for m in aws.drain()]
    assert [e.message_id for e in queued] == [f"wamid.B{n:02}" for n in range(12)]


def test_oversized_malformed_and_mistyped_bodies_get_4xx(aws: Aws) -> None:
    endpoint = webhook(aws)
    big = payload(change_value([message(content={"body": "x" * (3 * 1024 * 1024)})]))
    assert post(endpoint, big) == 413
    answer = endpoint.handle(post_event(b'{"object": "whatsapp_business_account", "entry": ['))
    assert answer["statusCode"] == 400 and "Traceback" not in answer["body"]
    assert post(endpoint, text_payload(), content_type="text/plain") == 415
    assert aws.sends == Counter() and aws.records() == {}


def test_a_late_release_or_completion_leaves_a_newer_claim_of_the_id_alone(aws: Aws) -> None:
    seen = DynamoSeenMessages(aws.table, client=aws.dynamodb, lease_s=30, busy_waits=())
    key = "wamid#wamid.LEASE"
    # Given request A's claim lapsed (30 s lease) and request B has claimed the id since
    assert seen.claim(key, NOW, "owner-a") is Claim.CLAIMED
    assert seen.claim(key, NOW + 10, "owner-b") is Claim.BUSY
    assert seen.claim(key, NOW + 31, "owner-b") is Claim.CLAIMED

    # When A, still running, fails to enqueue and releases, or enqueued and completes
    seen.release(key, "owner-a")
    seen.complete(key, NOW + 32, "owner-a")

    # Then B's claim is intact: a third request is still kept out while B works
    item = aws.dynamodb.get_item(TableName=aws.table, Key={"id": {"S": key}})["Item"]
    assert (item["status"]["S"], item["owner"]["S"]) == ("IN_PROGRESS", "owner-b")
    assert seen.claim(key, NOW + 33, "owner-c") is Claim.BUSY
    # and B settles it
    seen.complete(key, NOW + 34, "owner-b")
    assert aws.records() == {key: "COMPLETED"}
    assert seen.claim(key, NOW + 35, "owner-c") is Claim.DUPLICATE


def test_a_release_frees_only_its_own_claim(aws: Aws) -> None:
    seen = DynamoSeenMessages(aws.table, client=aws.dynamodb, busy_waits=())
    key = "wamid#wamid.RELEASE"
    assert seen.claim(key, NOW, "owner-a") is Claim.CLAIMED
    seen.release(key, "owner-a")
    assert aws.records() == {}
    assert seen.claim(key, NOW + 1, "owner-b") is Claim.CLAIMED
