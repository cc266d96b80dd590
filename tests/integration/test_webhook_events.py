"""The webhook's sample events (`sam local invoke WebhookFunction -e events/webhook-*.json`)
through the real handler in this process, with its environment as the template sets it
and SQS and DynamoDB on a moto server. Signed with the local stack's documented app secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from salonbot.inbound.wiring import default_endpoint, default_intake
from salonbot.whatsapp.events import InboundMessage, QueueEnvelope, StatusUpdate
from salonbot.whatsapp.signature import is_valid_signature, sign
from salonbot_dev.local.environment import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN
from salonbot_dev.local.handlers import LambdaContext, load_handler
from salonbot_dev.local.moto_server import FAKE_CREDENTIALS
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

EVENTS = REPO_ROOT / "events"
REGION = "eu-west-1"
# The samples carry fixed timestamps (March 2026); a real deployment queues messages
# older than a day to be kept unanswered, so the tests (like `sam local invoke`) raise
# the limit.
TEN_YEARS_S = 10 * 365 * 86_400


def _clear_caches() -> None:
    default_endpoint.cache_clear()
    default_intake.cache_clear()


@pytest.fixture
def queue(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, Any, str]]:
    """(sqs client, queue url, dynamodb client, table) with the function's environment set."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_url)
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_url)
    name = uuid.uuid4().hex[:12]
    url = sqs.create_queue(QueueName=f"inbound-{name}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    table = f"idempotency-{name}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("QUEUE_URL", url)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", table)
    monkeypatch.setenv("WHATSAPP_APP_SECRET", LOCAL_APP_SECRET)
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", LOCAL_VERIFY_TOKEN)
    monkeypatch.setenv("MAX_MESSAGE_AGE_S", str(TEN_YEARS_S))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Salonbot")
    _clear_caches()
    yield sqs, url, dynamodb, table
    _clear_caches()


def invoke(name: str, *, body: str | None = None) -> dict[str, Any]:
    """The handler's answer to the sample `name`, with another `body` (signed) if given."""
    handler = load_handler(REPO_ROOT / "functions" / "webhook", "app.lambda_handler")
    event = json.loads((EVENTS / name).read_text())
    if body is not None:
        event["body"] = body
        event["headers"]["x-hub-signature-256"] = sign(body.encode(), LOCAL_APP_SECRET)
    context = LambdaContext(
        function_name="WebhookFunction",
        memory_limit_in_mb=256,
        timeout_s=10,
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:WebhookFunction",
    )
    result: dict[str, Any] = handler(event, context)
    return result


def queued(sqs: Any, url: str) -> list[Any]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [QueueEnvelope.model_validate_json(m["Body"]).event for m in messages]


def test_samples_are_signed_with_the_documented_local_app_secret() -> None:
    for name in ("webhook-text-message.json", "webhook-interactive-list-reply.json"):
        event = json.loads((EVENTS / name).read_text())
        body = event["body"].encode()
        assert is_valid_signature(body, event["headers"]["x-hub-signature-256"], LOCAL_APP_SECRET)
    bad = json.loads((EVENTS / "webhook-bad-signature.json").read_text())
    assert not is_valid_signature(
        bad["body"].encode(), bad["headers"]["x-hub-signature-256"], LOCAL_APP_SECRET
    )


def test_text_message_sample_is_enqueued(queue: tuple[Any, str, Any, str]) -> None:
    sqs, url, _, _ = queue
    assert invoke("webhook-text-message.json")["statusCode"] == 200
    (event,) = queued(sqs, url)
    assert isinstance(event, InboundMessage)
    assert (event.phone_number_id, event.wa_id, event.text, event.contact_name) == (
        "100000000000001",
        "79001234567",
        "Привет! Хочу записаться на маникюр",
        "Ольга",
    )
    # Meta delivering the same sample again is acked and not enqueued twice
    assert json.loads(invoke("webhook-text-message.json")["body"])["duplicates"] == 1


def test_list_reply_sample_is_enqueued(queue: tuple[Any, str, Any, str]) -> None:
    sqs, url, _, _ = queue
    assert invoke("webhook-interactive-list-reply.json")["statusCode"] == 200
    (event,) = queued(sqs, url)
    assert isinstance(event, InboundMessage) and event.interactive is not None
    assert (event.interactive.kind, event.interactive.id) == ("list_reply", "service:manicure")


def test_status_update_sample_is_enqueued(queue: tuple[Any, str, Any, str]) -> None:
    sqs, url, _, _ = queue
    assert invoke("webhook-status-update.json")["statusCode"] == 200
    events = queued(sqs, url)
    assert all(isinstance(e, StatusUpdate) for e in events)
    assert [(e.status, e.error_code) for e in events] == [("delivered", None), ("failed", 131047)]  # type: ignore[union-attr]


def test_bad_signature_sample_is_refused(queue: tuple[Any, str, Any, str]) -> None:
    sqs, url, dynamodb, table = queue
    answer = invoke("webhook-bad-signature.json")
    assert answer["statusCode"] == 401
    assert queued(sqs, url) == []
    assert dynamodb.scan(TableName=table)["Items"] == []


def test_verify_sample_echoes_the_challenge(queue: tuple[Any, str, Any, str]) -> None:
    answer = invoke("webhook-verify.json")
    assert (answer["statusCode"], answer["body"]) == (200, "1158201444")
    assert answer["headers"]["Content-Type"] == "text/plain"


@pytest.mark.parametrize("opening", ["[", '{"k": '])
def test_a_signed_body_nested_3000_deep_is_refused_with_a_400(
    queue: tuple[Any, str, Any, str], opening: str
) -> None:
    # Given the text sample with its message text nested 3,000 levels deep, signed
    sqs, url, dynamodb, table = queue
    sample = json.loads((EVENTS / "webhook-text-message.json").read_text())["body"]
    closing = "]" if opening == "[" else "}"
    nested = opening * 3000 + "1" + closing * 3000
    body = sample.replace('"Привет! Хочу записаться на маникюр"', nested)
    assert body != sample

    # Then the webhook answers 400 (Meta does not retry it), not a 500, and queues nothing
    answer = invoke("webhook-text-message.json", body=body)
    assert answer["statusCode"] == 400, answer
    assert queued(sqs, url) == []
    assert dynamodb.scan(TableName=table)["Items"] == []
