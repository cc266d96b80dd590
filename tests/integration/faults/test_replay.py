"""Replay: Meta's (or an attacker's) copy of an old signed webhook, a day later, through
the webhook, the FIFO queue and the processor: one reply and one conversation turn for the
message, however it comes back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from salonbot.db.connection import Connection
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.meta_webhook import NOW, text_payload
from tests.integration import test_webhook_intake as intake
from tests.integration.processor.harness import (
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)
from tests.integration.test_webhook_intake import DAY, Aws, Clock, post, webhook

# The queue and table per test, as the webhook's own tests build them.
aws = intake.aws

pytestmark = pytest.mark.integration


def deliver_queue(aws: Aws, process: Callable[[str], str]) -> int:
    """Hand every queued message to the processor, as the event source would."""
    queued = aws.drain()
    for item in queued:
        process(item["Body"])
    return len(queued)


def test_an_old_signed_payload_replayed_a_day_later_is_not_processed_twice(
    db: Connection, aws: Aws, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(None, fake_whatsapp))
    clock = Clock(NOW)
    signed = text_payload("wamid.REPLAY")

    # Given the message arrived, was queued and answered
    assert post(webhook(aws, clock), signed) == 200
    assert deliver_queue(aws, harness.process) == 1
    first_replies = sent_texts(fake_whatsapp)
    assert len(first_replies) == 1

    # When the very same signed body is posted a day later
    clock.now = NOW + DAY
    assert post(webhook(aws, clock), signed) == 200
    # Then nothing is queued for it again
    assert deliver_queue(aws, harness.process) == 0

    # And even past the webhook's memory (its seen-ids record gone, no age limit), the
    # processor's ledger answers it at most once: no second reply, no second turn
    aws.dynamodb.delete_item(TableName=aws.table, Key={"id": {"S": "wamid#wamid.REPLAY"}})
    assert post(webhook(aws, clock, max_message_age_s=30 * 86_400), signed) == 200
    assert deliver_queue(aws, harness.process) == 1
    assert sent_texts(fake_whatsapp) == first_replies
    turns = rows(db, "SELECT count(*) AS n FROM ai_messages WHERE external_id = %s", "wamid.REPLAY")
    assert turns == [{"n": 1}]
    assert rows(db, "SELECT count(*) AS n FROM inbound_messages") == [{"n": 1}]
