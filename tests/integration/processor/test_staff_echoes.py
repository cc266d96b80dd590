"""Coexistence: a message staff send from the WhatsApp Business app arrives as an
`smb_message_echoes` webhook, goes through the queue like the customer's messages, is
stored as a staff message once however often it is delivered, and pauses the bot in that
conversation for STAFF_PAUSE_HOURS: the customer's next message waits for staff, with no
bot answer."""

from __future__ import annotations

import calendar
import datetime as dt
import json

import pytest

from salonbot.db.connection import Connection
from salonbot.whatsapp.webhook import ECHOES_FIELD, StaffEcho, parse_webhook, queue_body
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.integration.processor.guided_harness import guided_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    DEMO_PHONE_NUMBER_ID,
    NOW,
    import_demo_salon,
    rows,
    sent_texts,
)

pytestmark = pytest.mark.integration


def echo_webhook(text: str, *, wamid: str, at: dt.datetime) -> bytes:
    """Meta's payload for one message sent from the WhatsApp Business app."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "74950000000",
            "phone_number_id": DEMO_PHONE_NUMBER_ID,
        },
        "message_echoes": [
            {
                "from": "74950000000",
                "to": CUSTOMER.lstrip("+"),
                "id": wamid,
                "timestamp": str(calendar.timegm(at.utctimetuple())),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba-1", "changes": [{"field": ECHOES_FIELD, "value": value}]}],
    }
    return json.dumps(payload, ensure_ascii=False).encode()


def test_an_echo_is_a_staff_message_that_pauses_the_bot(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = guided_harness(db, fake_whatsapp)
    # Given a customer talking to the bot
    harness.say("Привет")
    assert sent_texts(fake_whatsapp)
    fake_whatsapp.clear()
    # When staff answer from the phone app, and Meta delivers the echo twice
    parsed = parse_webhook(
        echo_webhook("Анна на связи, сейчас помогу", wamid="wamid.echo.1", at=NOW)
    )
    (event,) = parsed.events
    assert (
        isinstance(event, StaffEcho) and event.group_id == f"{DEMO_PHONE_NUMBER_ID}:{CUSTOMER[1:]}"
    )
    body = queue_body(event, NOW.timestamp())
    assert harness.process(body) == "staff_echo"
    assert harness.process(body) == "staff_echo"
    # Then it is stored once, as staff's, and the conversation is with staff for
    # STAFF_PAUSE_HOURS (12 by default)
    staff = rows(db, "SELECT content, staff_user FROM ai_messages WHERE role = 'staff'")
    assert staff == [
        {"content": "Анна на связи, сейчас помогу", "staff_user": "whatsapp_business_app"}
    ]
    (state,) = rows(db, "SELECT status, handoff_until FROM ai_conversations")
    assert state["status"] == "handoff"
    assert state["handoff_until"] == NOW + dt.timedelta(hours=12)
    # and the customer's next message gets no bot answer: it waits for staff
    harness.say("Спасибо, жду")
    assert sent_texts(fake_whatsapp) == []
    assert fake_whatsapp.sent == []


def test_echoes_of_other_shapes_are_skipped_not_fatal() -> None:
    broken = json.loads(echo_webhook("x", wamid="w", at=NOW))
    broken["entry"][0]["changes"][0]["value"]["message_echoes"][0].pop("to")
    parsed = parse_webhook(json.dumps(broken))
    assert parsed.events == [] and parsed.invalid == 1
