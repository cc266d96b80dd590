"""One customer message from the queue body to the engines: the webhook cleans what it
queues, decoding the body (or building the HTTP API's message) cleans it again, and the
engines read the decoded message itself through `TurnInput`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from salonbot.api.routes import ProcessMessageRequest
from salonbot.assistant.base import TurnInput
from salonbot.booking.catalog import Salon
from salonbot.whatsapp.events import CustomerMessage, InboundMessage, QueueEnvelope
from salonbot.whatsapp.webhook import parse_webhook, queue_body
from tests.fakes.meta_webhook import CUSTOMER, NOW, change_value, message, payload

SENT_AT = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)


def salon(language: str = "ru") -> Salon:
    return Salon(
        id=uuid.uuid4(),
        name="Test",
        timezone="Europe/Moscow",
        language=language,
        currency="RUB",
        address=None,
        whatsapp_phone_number_id="100000000000001",
        ai_enabled=True,
        daily_budget_usd=Decimal(5),
        slot_step_minutes=15,
        min_notice_minutes=60,
        booking_horizon_days=30,
        revision=1,
    )


def queued_body(**event: Any) -> str:
    """A queue body as a producer that cleans nothing would write it."""
    fields = {
        "kind": "message",
        "phone_number_id": "100000000000001",
        "message_id": "wamid.1",
        "wa_id": CUSTOMER,
        "timestamp": "2030-01-07T09:00:00Z",
        "type": "text",
        **event,
    }
    return json.dumps({"event": fields, "enqueued_at": "2030-01-07T09:00:01Z"})


def decoded(**event: Any) -> InboundMessage:
    envelope = QueueEnvelope.model_validate_json(queued_body(**event))
    assert isinstance(envelope.event, InboundMessage)
    return envelope.event


def test_decoding_a_queue_body_cleans_its_texts_but_not_option_ids() -> None:
    # Given a body with NUL and other control characters in its texts
    event = decoded(
        type="interactive",
        text="Хочу\u0000 на\u0007 маникюр",
        contact_name="Ан\u0000на",
        interactive={
            "kind": "list_reply",
            "id": "svc:manicure\u0000",
            "title": "Маникюр\u0000",
            "description": "60 мин\u001b",
        },
    )

    # Then every text the engines or the database read is clean; the option id is ours
    assert event.text == "Хочу на маникюр"
    assert event.contact_name == "Анна"
    assert event.interactive is not None
    assert (event.interactive.title, event.interactive.description) == ("Маникюр", "60 мин")
    assert event.interactive.id == "svc:manicure\u0000"


def test_a_contact_name_of_nothing_but_nul_is_no_name() -> None:
    assert decoded(contact_name="\u0000").contact_name is None
    assert decoded(contact_name="").contact_name is None


def test_a_lone_surrogate_in_a_queue_body_makes_it_undecodable() -> None:
    # PostgreSQL could never store it: the processor drops such a body (counted).
    with pytest.raises(ValidationError):
        QueueEnvelope.model_validate_json(queued_body(text="half \ud83d"))


@pytest.mark.parametrize(
    ("event", "said", "own_words"),
    [
        ({"text": "Привет"}, "Привет", True),
        ({"type": "image", "text": "такой дизайн"}, "такой дизайн", True),
        ({"type": "image"}, "[image]", False),
        ({"text": "\u0000"}, "[text]", False),
        (
            {"type": "interactive", "interactive": {"kind": "button_reply", "id": "ok:1"}},
            "ok:1",
            False,
        ),
        (
            {
                "type": "button",
                "interactive": {"kind": "button", "id": "confirm:AB12", "title": "Подтвердить"},
            },
            "Подтвердить",
            False,
        ),
    ],
    ids=["text", "caption", "media", "only-nul", "tap-without-title", "template-button"],
)
def test_what_the_customer_said(event: dict[str, Any], said: str, own_words: bool) -> None:
    message = decoded(**event)
    assert message.said == said
    assert message.in_own_words is own_words


def test_the_engines_read_the_decoded_message_itself() -> None:
    # Given the message as the processor decoded it from the queue
    message = decoded(
        type="interactive",
        contact_name="Анна",
        interactive={"kind": "list_reply", "id": "mst:anna", "title": "Анна"},
    )

    # When the turn hands it to an engine
    turn = TurnInput(
        salon=salon("ru"),
        conversation_id=f"conv_x_{CUSTOMER}",
        message=message,
        conversation_language="en",
        guided_state={"v": 1},
    )

    # Then every attribute the engines read comes from it, unchanged
    assert turn.message is message
    assert turn.phone == f"+{CUSTOMER}"
    assert turn.text == "Анна"
    assert turn.message_type == "interactive"
    assert turn.interactive is message.interactive
    assert turn.interactive is not None
    assert (turn.interactive.id, turn.interactive.title) == ("mst:anna", "Анна")
    assert turn.message_id == "wamid.1"
    assert turn.contact_name == "Анна"
    assert turn.interactive_supported is True
    assert turn.guided_state == {"v": 1}
    assert turn.default_language == "en"


def test_the_http_api_builds_the_same_message_type() -> None:
    message = CustomerMessage(wa_id="79001234567", timestamp=SENT_AT, text="Привет\u0000")
    turn = TurnInput(
        salon=salon("ru"), conversation_id="c", message=message, interactive_supported=False
    )

    assert (turn.phone, turn.text, turn.message_type) == ("+79001234567", "Привет", "text")
    assert (turn.message_id, turn.contact_name, turn.interactive) == (None, None, None)
    assert turn.default_language == "ru"


def test_the_api_request_message_is_cleaned_and_must_hold_text() -> None:
    def request(text: str) -> ProcessMessageRequest:
        return ProcessMessageRequest.model_validate(
            {"salon_id": str(uuid.uuid4()), "phone_number": "+79001234567", "message": text}
        )

    assert request("  Хочу\u0000 на маникюр 😀\u0007 ").message == "Хочу на маникюр 😀"
    for empty in ("\u0000\u0007", " \u0000 "):
        with pytest.raises(ValidationError, match="message"):
            request(empty)
    # A lone surrogate is refused, as the webhook refuses it, not guessed at.
    with pytest.raises(ValidationError, match="message"):
        request("сломанный \ud83d эмодзи")


@pytest.mark.parametrize(
    ("caption", "name", "text", "contact"),
    [
        ("ди\u0000зайн\u0007", "\u001bАнна", "дизайн", "Анна"),
        ("\u0000\u0007", "\u0000", None, None),
        # An escaped surrogate pair in Meta's JSON is one emoji, kept.
        ("дизайн \ud83d\udc85", "Анна \ud83c\udf38", "дизайн 💅", "Анна 🌸"),
    ],
    ids=["nul-and-controls", "nothing-left", "surrogate-pairs"],
)
def test_the_webhook_queues_captions_and_contact_names_clean(
    caption: str, name: str, text: str | None, contact: str | None
) -> None:
    # Given a media message with a caption and a contact name, as Meta escapes them
    raw = message("image", {"id": "media-1", "caption": caption})
    contacts = [{"profile": {"name": name}, "wa_id": CUSTOMER}]
    body = json.dumps(payload(change_value([raw], contacts=contacts))).encode()

    # When the webhook parses it and the processor decodes what was queued
    (event,) = parse_webhook(body).events
    wire = queue_body(event, NOW)
    envelope = QueueEnvelope.model_validate_json(wire)

    # Then the queue body and the decoded message hold the cleaned texts
    assert isinstance(envelope.event, InboundMessage)
    assert (envelope.event.text, envelope.event.contact_name) == (text, contact)
    queued = json.loads(wire)["event"]
    assert (queued["text"], queued["contact_name"]) == (text, contact)
