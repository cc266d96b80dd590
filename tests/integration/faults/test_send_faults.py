"""WhatsApp send API faults: 5xx and 130429 are retried with exponential backoff (and a
Retry-After is honoured); a read timeout after WhatsApp took the message is an unknown
outcome, never repeated: the customer never gets two copies of one reply. A retry the
invocation has no time left for is not waited for: the reply is left for the redelivery."""

from __future__ import annotations

import contextlib
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from salonbot import time_budget
from salonbot.db.connection import Connection
from salonbot.processing import ledger, pipeline
from salonbot.processing.replies import ReplyNotSent
from salonbot.whatsapp.client import WhatsAppClient
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
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


def test_a_retry_the_invocation_has_no_time_for_leaves_the_reply_to_the_redelivery(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a 503 whose backoff (5 s) and next request (up to 10 s) outlast the 15 s
    # the invocation has left
    import_demo_salon(db)
    settings = settings_for(
        fake_openai, fake_whatsapp, whatsapp_retry_base_s=5.0, whatsapp_timeout_s=10.0
    )
    waits: list[float] = []
    harness = build_harness(
        db, settings, whatsapp=WhatsAppClient(settings, sleep=lambda s: waits.append(s))
    )
    fake_openai.add(Answer("Здравствуйте!"))
    fake_whatsapp.script(503)
    body = harness.body("Привет")

    # When the message is processed within that budget
    started = time.monotonic()
    with time_budget.invocation(15_000), pytest.raises(ReplyNotSent):
        harness.process(body)

    # Then the client did not wait: the item is back to pending, not left "sending"
    assert waits == []
    assert time.monotonic() - started < 5.0
    assert len(fake_whatsapp.requests) == 1
    assert sent_texts(fake_whatsapp) == []
    (entry,) = rows(db, "SELECT reply_status, reply_error, reply FROM inbound_messages")
    assert entry["reply_status"] == ledger.PENDING
    assert "503" in entry["reply_error"]
    assert [item["state"] for item in entry["reply"]] == [ledger.PENDING]

    # and the redelivery sends it, once
    with time_budget.invocation(60_000):
        assert harness.process(body) == pipeline.REPLIED
    assert harness.process(body) == pipeline.REPLIED
    assert sent_texts(fake_whatsapp) == ["Здравствуйте!"]
    assert len(fake_whatsapp.requests) == 2
    assert len(fake_openai.requests) == 1


def test_a_retry_that_fits_the_invocation_is_waited_for(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    settings = settings_for(
        fake_openai, fake_whatsapp, whatsapp_retry_base_s=0.05, whatsapp_timeout_s=10.0
    )
    waits: list[float] = []
    harness = build_harness(
        db, settings, whatsapp=WhatsAppClient(settings, sleep=lambda s: waits.append(s))
    )
    fake_openai.add(Answer("Здравствуйте!"))
    fake_whatsapp.script(503)

    with time_budget.invocation(15_000):
        assert harness.say("Привет") == pipeline.REPLIED

    assert waits == [0.05]
    assert sent_texts(fake_whatsapp) == ["Здравствуйте!"]


def test_a_send_without_time_left_is_not_attempted_and_stays_resendable(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the invocation ends before a request could be made (the margin is 2 s);
    # the model is cut short too, so the guided flow answers
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    body = harness.body("Привет")

    with time_budget.invocation(2_500), pytest.raises(ReplyNotSent):
        harness.process(body)

    # Then nothing reached WhatsApp and the item can still be sent
    assert fake_whatsapp.requests == []
    (entry,) = rows(db, "SELECT reply FROM inbound_messages")
    assert [item["state"] for item in entry["reply"]] == [ledger.PENDING]
    assert harness.process(body) == pipeline.REPLIED
    assert len(sent_texts(fake_whatsapp)) == 1
