"""ProcessorFunction invoked the way Lambda's SQS event source invokes it, with the sample
event in `events/`: the customer's message gets one reply at the send API, the delivery
status is recorded, and a redelivery of the same batch sends nothing more."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import get_settings
from salonbot.db.connection import Connection, reset_connection
from salonbot.observability import logger, metrics
from salonbot.processing import queue
from salonbot.time_budget import MIN_RECORD_S
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.conftest import DEMO_SALON_FILE
from tests.integration.test_scheduled_handlers import FakeContext, event, load_handler

pytestmark = pytest.mark.integration


@pytest.fixture
def fake_whatsapp() -> Iterator[FakeWhatsApp]:
    fake = start_fake_whatsapp(out=None)
    yield fake
    fake.stop()


@pytest.fixture
def processor_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, fake_whatsapp: FakeWhatsApp
) -> Iterator[None]:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "COST_TABLE", "RATE_LIMIT_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", fake_whatsapp.url)
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-sample-event-token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")

    def reset() -> None:
        get_settings.cache_clear()
        queue.default_processor.cache_clear()
        reset_connection()
        metrics.clear_metrics()

    reset()
    yield
    reset()


def invoke(sample: dict[str, Any]) -> dict[str, Any]:
    handler = load_handler("processor")
    result: dict[str, Any] = handler.lambda_handler(sample, FakeContext())
    return result


def just_sent(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample batch as if its customer message had just been sent: a reply goes out
    only within WhatsApp's 24-hour window of it (the sample's own date is long past)."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    for record in sample["Records"]:
        body = json.loads(record["body"])
        if body["event"].get("kind") == "message":
            body["event"]["timestamp"] = now
            body["enqueued_at"] = now
            record["body"] = json.dumps(body, ensure_ascii=False)
    return sample


def test_the_sample_sqs_event_is_answered_once(
    db: Connection, processor_env: None, fake_whatsapp: FakeWhatsApp
) -> None:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    sample = just_sent(event("sqs-customer-message.json"))
    message = json.loads(sample["Records"][0]["body"])["event"]
    status = json.loads(sample["Records"][1]["body"])["event"]

    # When Lambda delivers the batch
    assert invoke(sample) == {"batchItemFailures": []}

    # Then the customer got the salon's answer (the guided flow: no model configured)
    replies = fake_whatsapp.sent_to(message["wa_id"])
    assert len(replies) == 1
    assert "аникюр" in json.dumps(replies[0].as_dict(), ensure_ascii=False)
    stored = db.execute(
        "SELECT count(*) AS n FROM ai_messages WHERE external_id = %s", (message["message_id"],)
    ).fetchone()
    assert stored is not None and stored["n"] == 1
    recorded = db.execute(
        "SELECT status FROM message_statuses WHERE message_id = %s", (status["message_id"],)
    ).fetchall()
    assert [r["status"] for r in recorded] == ["delivered"]

    # When SQS delivers the same batch again, nothing more is sent
    assert invoke(sample) == {"batchItemFailures": []}
    assert len(fake_whatsapp.sent_to(message["wa_id"])) == 1


def test_a_batch_that_cannot_reach_the_database_fails_whole(
    db: Connection, processor_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database the processor cannot reach
    monkeypatch.setenv("DATABASE_URL", "postgresql://salonbot@127.0.0.1:9/none?connect_timeout=1")
    get_settings.cache_clear()
    queue.default_processor.cache_clear()
    reset_connection()
    sample = event("sqs-customer-message.json")

    # Then the invocation fails as a whole (Lambda's Errors metric moves) and SQS makes
    # every record of the batch visible again, to be retried or redriven to the DLQ
    with pytest.raises(BatchProcessingError, match="All records failed"):
        invoke(sample)


def test_records_are_handed_back_untried_when_the_invocation_is_nearly_over(
    db: Connection, processor_env: None, fake_whatsapp: FakeWhatsApp
) -> None:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    sample = just_sent(event("sqs-customer-message.json"))
    message = json.loads(sample["Records"][0]["body"])["event"]
    handler = load_handler("processor")

    # When Lambda gives the batch less time than a record needs to start
    with pytest.raises(BatchProcessingError, match="All records failed"):
        handler.lambda_handler(sample, FakeContext(remaining_ms=int(MIN_RECORD_S * 1000) - 500))

    # Then nothing was processed or sent: SQS delivers the records again
    assert fake_whatsapp.sent_to(message["wa_id"]) == []
    claimed = db.execute(
        "SELECT count(*) AS n FROM inbound_messages WHERE message_id = %s",
        (message["message_id"],),
    ).fetchone()
    assert claimed is not None and claimed["n"] == 0

    # and with time to spare, the same batch is answered
    assert handler.lambda_handler(sample, FakeContext()) == {"batchItemFailures": []}
    assert len(fake_whatsapp.sent_to(message["wa_id"])) == 1


def test_a_failed_record_is_logged_with_its_id_and_without_the_phone(
    db: Connection,
    processor_env: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a database the processor cannot reach
    monkeypatch.setenv("DATABASE_URL", "postgresql://salonbot@127.0.0.1:9/none?connect_timeout=1")
    get_settings.cache_clear()
    queue.default_processor.cache_clear()
    reset_connection()
    sample = event("sqs-customer-message.json")
    record = sample["Records"][0]
    phone = json.loads(record["body"])["event"]["wa_id"]

    # When Lambda delivers the batch and every record fails
    with caplog.at_level(logging.ERROR), pytest.raises(BatchProcessingError):
        invoke(sample)

    # Then the failure is logged at error level, by message id, with no phone in clear (the
    # record behind it in the customer's group is skipped, not tried)
    (failure,) = [r for r in caplog.records if r.getMessage().startswith("record failed")]
    assert failure.levelno == logging.ERROR and failure.exc_info
    assert failure.__dict__["sqs_message_id"] == record["messageId"]
    assert phone not in caplog.text and phone not in repr(failure.__dict__)


def test_keys_one_message_appended_are_gone_from_the_next_invocation(
    db: Connection, processor_env: None, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a container that processed a customer's message (its conversation id is a
    # log key, naming the customer's phone, masked)
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    handler = load_handler("processor")
    sample = event("sqs-customer-message.json")
    message, status = sample["Records"]
    assert handler.lambda_handler({"Records": [message]}, FakeContext()) == {
        "batchItemFailures": []
    }
    assert "conversation_id" in logger.get_current_keys()

    # When the same container next takes only a delivery status
    assert handler.lambda_handler({"Records": [status]}, FakeContext()) == {"batchItemFailures": []}

    # Then its logs carry that record's keys, none of the earlier message's
    keys = logger.get_current_keys()
    assert "conversation_id" not in keys
    assert keys["message_id"] == json.loads(status["body"])["event"]["message_id"]
    assert keys["correlation_id"] == status["messageId"]
