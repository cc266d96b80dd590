"""Bursts and read receipts through the real processor (part of `python -m benchmarks
processor`).

Bursts: customers each send three messages seconds apart ("Привет" / "хочу на маникюр" /
"завтра после 5"), every one posted to the real webhook intake (SQS FIFO and the
idempotency table in moto) before the processor takes the queue; the processor, on
PostgreSQL with the real SDK against a fake model that answers every call with text, runs
once with the burst check and once without. Figures: model calls and reply turns per
burst.

Read receipts: the time a turn spends queueing the read receipt and typing indicator
(the send itself runs in the background), and how long the receipt takes to reach the
fake WhatsApp API."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any

from benchmarks.harness import Row

if TYPE_CHECKING:
    from salonbot.db.connection import Connection
    from salonbot_dev.fakes.whatsapp import FakeWhatsApp
    from tests.fakes.openai_server import FakeOpenAI

AREA = "processor"
BURSTS = 10
RECEIPTS = 200
TEXTS = ("Привет", "хочу на маникюр", "завтра после 5")
T = 1893996000  # the processor harness's clock: 2030-01-07 06:00 UTC


def _body(phone_number_id: str, wa_id: str, n: int, text: str) -> bytes:
    message = {
        "from": wa_id,
        "id": f"wamid.bench.{wa_id}.{n}",
        "timestamp": str(T + 2 * n),
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "79000000001", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Мария"}, "wa_id": wa_id}],
        "messages": [message],
    }
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()


def _aws(url: str) -> tuple[Any, Any, str, str]:
    import boto3

    from salonbot_dev.local.moto_server import FAKE_CREDENTIALS

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=url,
            region_name="eu-west-1",
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    sqs, dynamodb = client("sqs"), client("dynamodb")
    name = uuid.uuid4().hex[:12]
    queue_url = sqs.create_queue(
        QueueName=f"bench-{name}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
    )["QueueUrl"]
    table = f"bench-idempotency-{name}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return sqs, dynamodb, queue_url, table


def _drain(sqs: Any, queue_url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return bodies
        for item in batch:
            bodies.append(item["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=item["ReceiptHandle"])


def _bursts(
    conn: Connection, model: FakeOpenAI, whatsapp: FakeWhatsApp, url: str, *, check: bool
) -> tuple[float, float]:
    """Model calls and reply turns per burst."""
    from salonbot.inbound.dedupe import DynamoSeenMessages
    from salonbot.inbound.enqueue import SqsEventQueue
    from salonbot.inbound.intake import WebhookIntake
    from salonbot.processing.bursts import BurstWatch
    from salonbot.processing.pipeline import REPLIED
    from salonbot.whatsapp.webhook import parse_webhook
    from tests.fakes.openai_server import Answer
    from tests.integration.processor.guided_harness import production_harness
    from tests.integration.processor.harness import (
        DEMO_PHONE_NUMBER_ID,
        Clock,
        settings_for,
    )

    sqs, dynamodb, queue_url, table = _aws(url)
    intake = WebhookIntake(
        seen=DynamoSeenMessages(table, client=dynamodb),
        queue=SqsEventQueue(queue_url, client=sqs),
        max_message_age_s=86_400,
        clock=lambda: float(T + 60),
    )
    parts = {"bursts": BurstWatch(table, client=dynamodb)} if check else {}
    harness = production_harness(conn, settings_for(model, whatsapp), clock=Clock(), **parts)
    model.reset()
    model.add(*(Answer("Завтра после 17:00 свободно 17:00 и 18:00.") for _ in range(3 * BURSTS)))
    replied = 0
    first = 1000 if check else 2000
    for customer in range(BURSTS):
        wa_id = f"7902{first + customer:07d}"
        for n, text in enumerate(TEXTS):
            intake.accept(parse_webhook(_body(DEMO_PHONE_NUMBER_ID, wa_id, n, text)))
        replied += sum(harness.process(b) == REPLIED for b in _drain(sqs, queue_url))
    calls = len(model.requests)
    if model.unscripted:
        raise RuntimeError("the fake model ran out of answers")
    model.reset()
    return calls / BURSTS, replied / BURSTS


def _receipts(whatsapp: FakeWhatsApp) -> tuple[list[float], list[float]]:
    """Per receipt: the time the caller waits (µs) and the time to reach WhatsApp (ms)."""
    from salonbot.whatsapp.read_receipts import ReadReceipts

    receipts = ReadReceipts(whatsapp.url + "/v21.0", lambda _: "EAAG-bench-token")
    receipts.mark_read("100000000000001", "wamid.warmup", typing=True).result()
    waits: list[float] = []
    arrivals: list[float] = []
    for n in range(RECEIPTS):
        started = time.perf_counter()
        future = receipts.mark_read("100000000000001", f"wamid.receipt.{n}", typing=True)
        waits.append((time.perf_counter() - started) * 1e6)
        assert future.result(timeout=5)
        arrivals.append((time.perf_counter() - started) * 1000)
    return waits, arrivals


def rows(conn: Connection, model: FakeOpenAI, whatsapp: FakeWhatsApp) -> list[Row]:
    from salonbot_dev.local.moto_server import MotoServer

    server = MotoServer()
    url = server.start()
    try:
        with_check = _bursts(conn, model, whatsapp, url, check=True)
        without = _bursts(conn, model, whatsapp, url, check=False)
    finally:
        server.stop()
    waits, arrivals = _receipts(whatsapp)
    waits.sort()
    arrivals.sort()
    return [
        Row(
            AREA,
            "bursts of 3 messages: model calls / reply turns per burst",
            f"{with_check[0]:.1f} / {with_check[1]:.1f}",
            "1 / 1",
            f"{BURSTS} customers, all 3 messages at the webhook before processing; without "
            f"the burst check {without[0]:.1f} / {without[1]:.1f}",
        ),
        Row(
            AREA,
            "read receipt + typing: turn's wait median / p95",
            f"{statistics.median(waits):.0f} / {waits[int(0.95 * len(waits)) - 1]:.0f} µs",
            "< 5 ms",
            f"{RECEIPTS} receipts queued to a background thread; at the fake WhatsApp API "
            f"after {statistics.median(arrivals):.1f} ms median",
        ),
    ]
