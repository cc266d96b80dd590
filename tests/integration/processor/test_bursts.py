"""A burst ("Привет" / "хочу на маникюр" / "завтра после 5" within seconds) gets one
reply: the webhook (real intake, SQS FIFO and DynamoDB in moto) records the customer's
latest message, and the processor holds the earlier ones for the last one's turn."""

from __future__ import annotations

import json

import pytest

from salonbot.db.connection import Connection
from salonbot.inbound.dedupe import DynamoSeenMessages
from salonbot.inbound.enqueue import SqsEventQueue
from salonbot.inbound.intake import WebhookIntake
from salonbot.observability import MetricName, metrics
from salonbot.processing.bursts import BurstWatch
from salonbot.processing.pipeline import NO_REPLY, REPLIED
from salonbot.whatsapp.webhook import parse_webhook
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.integration.processor.guided_harness import production_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    Clock,
    Harness,
    import_demo_salon,
    rows,
    settings_for,
)
from tests.integration.test_webhook_intake import Aws, aws  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(request: pytest.FixtureRequest) -> Aws:
    """SQS FIFO and the idempotency table in moto, as the intake tests build them."""
    found: Aws = request.getfixturevalue("aws")
    return found


T = 1893996000  # 2030-01-07 06:00 UTC: the harness's clock
PNID = "100000000000001"


def _post(intake: WebhookIntake, text: str, n: int, sent_at: int) -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "79000000001",
                                "phone_number_id": PNID,
                            },
                            "contacts": [
                                {"profile": {"name": "Мария"}, "wa_id": CUSTOMER.lstrip("+")}
                            ],
                            "messages": [
                                {
                                    "from": CUSTOMER.lstrip("+"),
                                    "id": f"wamid.burst.{n}",
                                    "timestamp": str(sent_at),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    assert intake.accept(parse_webhook(json.dumps(body).encode())).enqueued == 1


def _setup(
    db: Connection, cloud: Aws, fake_whatsapp: FakeWhatsApp, fake_openai: FakeOpenAI | None
) -> tuple[WebhookIntake, Harness]:
    import_demo_salon(db)
    intake = WebhookIntake(
        seen=DynamoSeenMessages(cloud.table, client=cloud.dynamodb),
        queue=SqsEventQueue(cloud.queue_url, client=cloud.sqs),
        max_message_age_s=86_400,
        clock=lambda: float(T + 10),
    )
    settings = settings_for(fake_openai, fake_whatsapp)
    bursts = BurstWatch(cloud.table, client=cloud.dynamodb)
    return intake, production_harness(db, settings, clock=Clock(), bursts=bursts)


def _process_queue(cloud: Aws, harness: Harness) -> list[str]:
    return [harness.process(item["Body"]) for item in cloud.drain()]


def test_a_burst_of_three_messages_gets_one_reply_from_one_model_call(
    db: Connection, cloud: Aws, fake_whatsapp: FakeWhatsApp, fake_openai: FakeOpenAI
) -> None:
    # Given three messages posted by Meta one by one, seconds apart, before processing
    intake, harness = _setup(db, cloud, fake_whatsapp, fake_openai)
    for n, text in enumerate(("Привет", "хочу на маникюр", "завтра после 5"), start=1):
        _post(intake, text, n, T + 2 * n)
    fake_openai.add(Answer("Завтра после 17:00 свободно 17:00 и 18:00. Какое удобно?"))
    metrics.clear_metrics()

    # When the processor takes the queue in order
    outcomes = _process_queue(cloud, harness)

    # Then only the last one is answered, by one model call that read all three
    assert outcomes == [NO_REPLY, NO_REPLY, REPLIED]
    [request] = fake_openai.requests
    user_turns = [m for m in request.body["messages"] if m["role"] == "user"]
    assert user_turns == [{"role": "user", "content": "Привет\nхочу на маникюр\nзавтра после 5"}]
    assert len(fake_whatsapp.texts_to(CUSTOMER)) == 1
    # ... every message is stored once, none left held
    stored = rows(db, "SELECT role, content, held FROM ai_messages ORDER BY id")
    assert [(r["role"], r["content"], r["held"]) for r in stored] == [
        ("user", "Привет", False),
        ("user", "хочу на маникюр", False),
        ("user", "завтра после 5", False),
        ("assistant", "Завтра после 17:00 свободно 17:00 и 18:00. Какое удобно?", False),
    ]
    assert metrics.metric_set[MetricName.BURST_MESSAGES_HELD]["Value"] == [1.0, 1.0]


def test_without_a_model_the_guided_flow_answers_the_burst_once(
    db: Connection, cloud: Aws, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a burst, and no model
    intake, harness = _setup(db, cloud, fake_whatsapp, None)
    _post(intake, "Привет", 1, T + 1)
    _post(intake, "хочу на маникюр", 2, T + 3)

    # When processed, Then one turn answers, about the manicure
    assert _process_queue(cloud, harness) == [NO_REPLY, REPLIED]
    [answered] = rows(db, "SELECT count(*) AS n FROM inbound_messages WHERE reply_status = 'sent'")
    assert answered["n"] == 1
    assert "аникюр" in "\n".join(fake_whatsapp.texts_to(CUSTOMER))


def test_a_lone_message_and_messages_of_one_second_are_each_answered(
    db: Connection, cloud: Aws, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a message, processed before the next arrives, then two sent in the same second
    intake, harness = _setup(db, cloud, fake_whatsapp, None)
    _post(intake, "Привет", 1, T + 1)
    assert _process_queue(cloud, harness) == [REPLIED]
    _post(intake, "хочу на маникюр", 2, T + 5)
    _post(intake, "на завтра", 3, T + 5)

    # When processed, Then each is answered: nothing strictly later was waiting
    assert _process_queue(cloud, harness) == [REPLIED, REPLIED]


def test_a_redelivered_held_message_is_not_answered_again(
    db: Connection, cloud: Aws, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a burst of two, processed, whose first message SQS delivers again
    intake, harness = _setup(db, cloud, fake_whatsapp, None)
    _post(intake, "Привет", 1, T + 1)
    _post(intake, "хочу на маникюр", 2, T + 3)
    bodies = [item["Body"] for item in cloud.drain()]
    assert [harness.process(b) for b in bodies] == [NO_REPLY, REPLIED]
    sent = len(fake_whatsapp.sent)

    # When the first comes back, Then nothing more is sent or stored
    assert harness.process(bodies[0]) == NO_REPLY
    assert len(fake_whatsapp.sent) == sent
    [count] = rows(db, "SELECT count(*) AS n FROM ai_messages WHERE role = 'user'")
    assert count["n"] == 2
