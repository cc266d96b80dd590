"""WhatsApp send API faults: 5xx and 130429 are retried with exponential backoff (and a
Retry-After is honoured); a read timeout after WhatsApp took the message is an unknown
outcome, never repeated: the customer never gets two copies of one reply."""

from __future__ import annotations

import contextlib
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from salonbot.db.connection import Connection
from salonbot.local.fake_whatsapp import FakeWhatsApp
from salonbot.processing import pipeline
from salonbot.whatsapp.client import WhatsAppClient
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.integration.processor.harness import (
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration


class LateWhatsApp(FakeWhatsApp):
    """Takes the message (records it), then answers after `delay_s`."""

    delay_s = 0.0

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        if status == 200 and "messages" in body and self.delay_s:
            time.sleep(self.delay_s)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client left
            super()._reply(handler, status, body)


def test_5xx_and_rate_limits_are_retried_with_backoff_and_sent_once(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    settings = settings_for(fake_openai, fake_whatsapp, whatsapp_retry_base_s=0.05)
    waits: list[float] = []
    harness = build_harness(
        db, settings, whatsapp=WhatsAppClient(settings, sleep=lambda s: waits.append(s))
    )
    fake_openai.add(Answer("Здравствуйте!"))
    fake_whatsapp.script(500)
    fake_whatsapp.script(503)
    fake_whatsapp.script(400, 130429)

    assert harness.say("Привет") == pipeline.REPLIED

    assert waits == [0.05, 0.1, 0.2]  # exponential backoff between the 4 attempts
    assert len(fake_whatsapp.requests) == 4
    assert sent_texts(fake_whatsapp) == ["Здравствуйте!"]


def test_a_read_timeout_after_whatsapp_took_the_reply_is_not_repeated(
    db: Connection, fake_openai: FakeOpenAI
) -> None:
    # Given WhatsApp records the message but answers after the client's timeout
    late = LateWhatsApp(out=None).start()
    try:
        late.delay_s = 1.0
        import_demo_salon(db)
        harness = build_harness(db, settings_for(fake_openai, late, whatsapp_timeout_s=0.2))
        fake_openai.add(Answer("Здравствуйте!"))
        body = harness.body("Привет")

        # When the message is processed and SQS redelivers it
        started = time.monotonic()
        assert harness.process(body) == pipeline.REPLY_FAILED
        assert time.monotonic() - started < 1.0  # the timeout, not the late answer
        assert harness.process(body) == pipeline.REPLY_FAILED

        # Then the customer has exactly one copy and the ledger says the outcome is unknown
        assert sent_texts(late) == ["Здравствуйте!"]
        assert len(late.requests) == 1
        (entry,) = rows(db, "SELECT reply_status, reply_error, reply FROM inbound_messages")
        assert entry["reply_status"] == "failed"
        assert "ReadTimeout" in entry["reply_error"]
        assert [item["state"] for item in entry["reply"]] == ["unknown"]
    finally:
        late.stop()
