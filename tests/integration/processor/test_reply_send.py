"""The reply a turn has just committed is sent as saved, without reading the ledger back;
a redelivery reads the ledger and sends nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

from salonbot.db.connection import Connection
from salonbot.processing import ledger
from salonbot.processing.pipeline import REPLIED
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


def test_a_new_message_is_answered_without_reading_its_reply_back(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the demo salon, a model that greets, and a ledger that counts its reads
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(Answer("Здравствуйте! Чем могу помочь?"))
    reads: list[str] = []
    read = ledger.pending_reply

    def counted(conn: Connection, message_id: str) -> Any:
        reads.append(message_id)
        return read(conn, message_id)

    monkeypatch.setattr(ledger, "pending_reply", counted)
    body = harness.body("Здравствуйте!", wamid="wamid.send.1")

    # When the message is processed, then delivered again by the queue
    first = harness.process(body)
    again = harness.process(body)

    # Then the first time sent the reply it had just saved, reading nothing back
    assert first == REPLIED and again == REPLIED
    assert sent_texts(fake_whatsapp) == ["Здравствуйте! Чем могу помочь?"]
    # and the redelivery read the ledger, found the reply sent and sent nothing more
    assert reads == ["wamid.send.1"]
    (row,) = rows(db, "SELECT reply_status, reply FROM inbound_messages")
    assert row["reply_status"] == ledger.SENT
    assert [item["state"] for item in row["reply"]] == [ledger.SENT]
    assert len(fake_openai.requests) == 1
