"""Messages no engine answers are kept for the staff and counted, not dropped: a
message the webhook received a day after it was sent, and one for a WhatsApp number no
salon has. Each is kept once however often SQS delivers it, and `salonbot messages
kept` lists them."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from salonbot.db.connection import Connection
from salonbot.inbound.intake import WebhookIntake
from salonbot.observability import MetricName, metrics
from salonbot.processing.pipeline import KEPT, REPLIED
from salonbot.retention import RetentionPolicy, purge_old_ai_data
from salonbot.whatsapp.webhook import parse_webhook
from salonbot_dev.cli import main as cli
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.meta_webhook import (
    NOW,
    MemoryQueue,
    MemorySeenMessages,
    change_value,
    message,
    payload,
)
from tests.integration.processor.harness import (
    Clock,
    build_harness,
    import_demo_salon,
    rows,
    settings_for,
)

pytestmark = pytest.mark.integration

DAY = 86_400
UNKNOWN_NUMBER = "100000000000999"


def _queued(data: dict[str, object]) -> list[str]:
    """The queue bodies the webhook makes of this payload, received now."""
    queue = MemoryQueue()
    intake = WebhookIntake(
        seen=MemorySeenMessages(), queue=queue, max_message_age_s=DAY, clock=lambda: NOW
    )
    intake.accept(parse_webhook(json.dumps(data)))
    return [m.body for m in queue.sent]


def _kept(db: Connection) -> list[dict[str, object]]:
    return rows(
        db,
        "SELECT message_id, salon_id, phone_number_id, phone_number, contact_name, content, "
        "reason FROM kept_messages ORDER BY message_id",
    )


def test_a_message_a_day_old_is_kept_for_the_staff_and_not_answered(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given Meta delivers, late, a message sent more than a day ago, and a fresh one
    salon = import_demo_salon(db)
    harness = build_harness(db, settings_for(None, fake_whatsapp), clock=Clock())
    old, fresh = _queued(
        payload(
            change_value(
                [
                    message(message_id="wamid.OLD", timestamp=NOW - DAY - 60),
                    message(message_id="wamid.NEW", timestamp=NOW - 60),
                ]
            )
        )
    )
    metrics.clear_metrics()

    # When the processor takes both, the old one twice (an SQS redelivery)
    outcomes = [harness.process(old), harness.process(old), harness.process(fresh)]

    # Then the old one was kept, once, for the salon's staff, and counted; not answered
    assert outcomes == [KEPT, KEPT, REPLIED]
    assert _kept(db) == [
        {
            "message_id": "wamid.OLD",
            "salon_id": salon.id,
            "phone_number_id": "100000000000001",
            "phone_number": "+79001234567",
            "contact_name": "Анна",
            "content": "Привет! Хочу записаться на маникюр",
            "reason": "stale",
        }
    ]
    assert metrics.metric_set[MetricName.MESSAGES_KEPT]["Value"] == [1.0]
    metrics.clear_metrics()
    # and only the fresh one was answered and is in the conversation
    assert len(fake_whatsapp.sent) == 1
    stored = rows(db, "SELECT external_id FROM ai_messages WHERE role = 'user'")
    assert stored == [{"external_id": "wamid.NEW"}]


def test_a_message_for_a_number_no_salon_has_is_kept_without_a_salon(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(None, fake_whatsapp), clock=Clock())
    (body,) = _queued(
        payload(
            change_value(
                [message(message_id="wamid.NOBODY", timestamp=NOW - 60)],
                phone_number_id=UNKNOWN_NUMBER,
            )
        )
    )
    metrics.clear_metrics()

    assert [harness.process(body), harness.process(body)] == [KEPT, KEPT]

    (kept,) = _kept(db)
    assert (kept["salon_id"], kept["phone_number_id"], kept["reason"]) == (
        None,
        UNKNOWN_NUMBER,
        "unknown_number",
    )
    assert kept["content"] == "Привет! Хочу записаться на маникюр"
    assert metrics.metric_set[MetricName.MESSAGES_KEPT]["Value"] == [1.0]
    metrics.clear_metrics()
    assert fake_whatsapp.sent == []
    assert rows(db, "SELECT id FROM ai_conversations") == []


def test_the_cli_lists_kept_messages(
    db: Connection,
    database_url: str,
    fake_whatsapp: FakeWhatsApp,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given one stale message of the demo salon and one for an unknown number
    salon = import_demo_salon(db)
    harness = build_harness(db, settings_for(None, fake_whatsapp), clock=Clock())
    for body in _queued(
        payload(
            change_value([message(message_id="wamid.OLD", timestamp=NOW - 2 * DAY)]),
            change_value(
                [message(message_id="wamid.NOBODY", timestamp=NOW - 60)],
                phone_number_id=UNKNOWN_NUMBER,
            ),
        )
    ):
        harness.process(body)
    capsys.readouterr()

    # When staff list them
    assert cli(["--database-url", database_url, "messages", "kept", "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert cli(["--database-url", database_url, "messages", "kept", "--salon", str(salon.id)]) == 0
    table = capsys.readouterr().out
    assert (
        cli(["--database-url", database_url, "messages", "kept", "--reason", "unknown_number"]) == 0
    )
    unknown = capsys.readouterr().out

    # Then they see each message with its customer, text and reason
    assert {(m["message_id"], m["reason"], m["salon_id"]) for m in everything} == {
        ("wamid.OLD", "stale", str(salon.id)),
        ("wamid.NOBODY", "unknown_number", None),
    }
    assert all(m["phone_number"] == "+79001234567" for m in everything)
    assert "stale" in table and "+79001234567" in table and "Привет!" in table
    assert UNKNOWN_NUMBER not in table
    assert UNKNOWN_NUMBER in unknown and "stale" not in unknown
    # and a salon id that is not one is refused, naming the option
    assert cli(["--database-url", database_url, "messages", "kept", "--salon", "x"]) == 2
    assert "--salon" in capsys.readouterr().err


def test_kept_messages_follow_the_message_retention(db: Connection) -> None:
    # Given a message kept 100 days ago and one kept 10 days ago
    import_demo_salon(db)
    now = dt.datetime(2030, 6, 1, tzinfo=dt.UTC)
    for age in (100, 10):
        db.execute(
            "INSERT INTO kept_messages (message_id, phone_number_id, phone_number, "
            "message_type, content, reason, sent_at, received_at) "
            "VALUES (%s, %s, '+79001234567', 'text', 'hello', 'unknown_number', %s, %s)",
            (f"wamid.kept.{age}", UNKNOWN_NUMBER, now - dt.timedelta(days=age + 2),
             now - dt.timedelta(days=age)),
        )  # fmt: skip
    db.commit()

    # When the cleanup runs with a 90-day message retention
    result = purge_old_ai_data(db, RetentionPolicy(message_days=90), now=now)

    # Then the old one and its phone are gone, the recent one stays
    assert result.kept_deleted == 1
    assert [r["message_id"] for r in _kept(db)] == ["wamid.kept.10"]
