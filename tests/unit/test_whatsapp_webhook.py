"""Meta's webhook payload flattened into queue events: every message type, statuses,
several entries, changes and messages per POST, lenient items, strict top level."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salonbot.errors import InvalidInput
from salonbot.local.customer import Choice, CustomerPhone
from salonbot.whatsapp.events import InboundMessage, InteractiveReply, QueueEnvelope, StatusUpdate
from salonbot.whatsapp.webhook import parse_webhook
from tests.fakes.meta_webhook import (
    CUSTOMER,
    NOW,
    PHONE_NUMBER_ID,
    body_of,
    change_value,
    message,
    payload,
    status,
)


def only_message(raw: dict[str, Any]) -> InboundMessage:
    parsed = parse_webhook(body_of(payload(change_value([raw]))))
    assert (parsed.invalid, parsed.ignored) == (0, 0)
    (event,) = parsed.events
    assert isinstance(event, InboundMessage)
    return event


def test_text_message_carries_salon_customer_name_and_time() -> None:
    event = only_message(message(message_id="wamid.A"))
    assert event.phone_number_id == PHONE_NUMBER_ID
    assert (event.message_id, event.wa_id, event.type) == ("wamid.A", CUSTOMER, "text")
    assert event.text == "Привет! Хочу записаться на маникюр"
    assert event.contact_name == "Анна"
    assert event.timestamp == dt.datetime.fromtimestamp(int(NOW - 5), tz=dt.UTC)
    assert event.group_id == f"{PHONE_NUMBER_ID}:{CUSTOMER}"
    assert event.payload == {}


@pytest.mark.parametrize("kind", ["button_reply", "list_reply"])
def test_interactive_replies(kind: str) -> None:
    row = {"id": "svc:manicure", "title": "Маникюр"}
    if kind == "list_reply":
        row["description"] = "60 мин, 1500 ₽"
    event = only_message(message("interactive", {"type": kind, kind: row}))
    assert event.interactive == InteractiveReply(
        kind=kind, id="svc:manicure", title="Маникюр", description=row.get("description")
    )
    assert event.text is None


def test_template_quick_reply_button() -> None:
    event = only_message(message("button", {"payload": "CONFIRM_123", "text": "Подтвердить"}))
    assert event.interactive == InteractiveReply(
        kind="button", id="CONFIRM_123", title="Подтвердить"
    )


def test_an_unknown_interactive_kind_is_kept_in_the_payload() -> None:
    flow = {"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "name": "flow"}}
    event = only_message(message("interactive", flow))
    assert event.interactive is None and event.payload == flow


@pytest.mark.parametrize("kind", ["image", "video", "document", "audio", "sticker"])
def test_media_keeps_its_id_and_caption(kind: str) -> None:
    media: dict[str, Any] = {"id": "1234567890", "mime_type": "image/jpeg", "sha256": "abc"}
    if kind in ("image", "video", "document"):
        media["caption"] = "вот такой дизайн"
    event = only_message(message(kind, media))
    assert event.type == kind
    assert event.payload == media
    assert event.text == media.get("caption")


def test_location_contacts_and_reaction() -> None:
    location = {"latitude": 55.75, "longitude": 37.61, "name": "Салон", "address": "Тверская 1"}
    assert only_message(message("location", location)).payload == location
    cards = [{"name": {"formatted_name": "Ирина"}, "phones": [{"phone": "+79990000000"}]}]
    assert only_message(message("contacts", cards)).payload == {"contacts": cards}
    reaction = {"message_id": "wamid.OUT", "emoji": "👍"}
    event = only_message(message("reaction", reaction))
    assert (event.type, event.payload) == ("reaction", reaction)


def test_unknown_and_future_types_are_kept_not_refused() -> None:
    unsupported = message(
        "unsupported",
        None,
        errors=[{"code": 131051, "title": "Message type unknown"}],
    )
    event = only_message(unsupported)
    assert event.type == "unsupported"
    assert event.payload == {"errors": [{"code": 131051, "title": "Message type unknown"}]}
    future = only_message(message("hologram", {"frames": [1, 2, 3]}))
    assert (future.type, future.payload) == ("hologram", {"frames": [1, 2, 3]})


def test_reply_context_is_kept() -> None:
    context = {"from": "79000000001", "id": "wamid.OUT"}
    event = only_message(message(context=context))
    assert event.payload == {"context": context}


def test_statuses_become_status_updates_with_error_codes() -> None:
    failed = status(
        "failed",
        message_id="wamid.OUT2",
        errors=[{"code": 131047, "title": "Re-engagement message", "message": "more than 24h"}],
    )
    parsed = parse_webhook(
        body_of(payload(change_value(statuses=[status("sent"), status("read"), failed])))
    )
    assert [type(e) for e in parsed.events] == [StatusUpdate] * 3
    sent, _read, fail = parsed.events
    assert isinstance(fail, StatusUpdate) and isinstance(sent, StatusUpdate)
    assert (sent.status, sent.message_id, sent.recipient_id) == (
        "sent",
        "wamid.OUTGOING1",
        CUSTOMER,
    )
    assert (fail.status, fail.error_code, fail.error_title) == (
        "failed",
        131047,
        "Re-engagement message",
    )
    assert fail.group_id == f"{PHONE_NUMBER_ID}:{CUSTOMER}"


def test_several_entries_changes_and_messages_in_meta_order() -> None:
    first = payload(
        change_value([message(message_id="m1"), message(message_id="m2", sender="79000000002")]),
        change_value(statuses=[status("delivered")], phone_number_id="200000000000002"),
    )
    second = payload(change_value([message(message_id="m3")], phone_number_id="300"))
    data = {"object": "whatsapp_business_account", "entry": first["entry"] + second["entry"]}
    parsed = parse_webhook(body_of(data))
    ids = [(e.kind, e.message_id, e.phone_number_id) for e in parsed.events]
    assert ids == [
        ("message", "m1", PHONE_NUMBER_ID),
        ("message", "m2", PHONE_NUMBER_ID),
        ("status", "wamid.OUTGOING1", "200000000000002"),
        ("message", "m3", "300"),
    ]
    # names come from the contacts of their own change
    assert parsed.events[1].contact_name is None  # type: ignore[union-attr]


def test_other_fields_are_ignored_and_bad_items_skipped_not_fatal() -> None:
    good = message(message_id="good")
    broken = [
        {"id": "no-sender", "timestamp": "1", "type": "text", "text": {"body": "x"}},
        message(message_id="bad-ts", timestamp=0) | {"timestamp": "yesterday"},
        message(message_id="bad-text", content={"body": 42}),
        "not an object",
    ]
    data = payload(
        change_value([*broken, good], statuses=[{"id": "s"}]),
        {"messaging_product": "whatsapp"},  # no metadata: cannot tell the salon
    )
    data["entry"][0]["changes"].append(
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
    )
    parsed = parse_webhook(body_of(data))
    assert [e.message_id for e in parsed.events] == ["good"]
    assert (parsed.invalid, parsed.ignored) == (6, 1)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b"null",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": 5}]}',
        b"\xff\xfe\x00",
    ],
)
def test_not_a_whatsapp_payload_is_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_webhook(body)


def test_what_the_local_customer_phone_sends_parses() -> None:
    phone = CustomerPhone("http://127.0.0.1:3000", "s", PHONE_NUMBER_ID, "+79001234567", "Ольга")
    text = parse_webhook(json.dumps(phone.text_payload("Привет")).encode()).events[0]
    choice = parse_webhook(
        json.dumps(phone.choice_payload(Choice("slot:1", "10:00", "Анна", "list_reply"))).encode()
    ).events[0]
    assert isinstance(text, InboundMessage) and isinstance(choice, InboundMessage)
    assert (text.text, text.contact_name, text.wa_id) == ("Привет", "Ольга", "79001234567")
    assert choice.interactive == InteractiveReply(
        kind="list_reply", id="slot:1", title="10:00", description="Анна"
    )


def test_events_round_trip_through_the_queue_envelope() -> None:
    parsed = parse_webhook(
        body_of(payload(change_value([message("location", {"latitude": 1.5})], [status()])))
    )
    for event in parsed.events:
        envelope = QueueEnvelope(event=event, enqueued_at=dt.datetime.now(dt.UTC))
        assert QueueEnvelope.model_validate_json(envelope.model_dump_json()) == envelope


# Property: any JSON value, or a real payload with parts replaced by arbitrary JSON,
# either parses into events or is refused as invalid input; nothing else escapes.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
KINDS = ["text", "interactive", "button", "image", "location", "contacts", "reaction", "x"]


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(KINDS))
    data: Any = payload(change_value([message(kind, draw(json_values))], statuses=[status("read")]))
    for _ in range(draw(st.integers(0, 3))):
        node: Any = data
        path = draw(st.lists(st.integers(0, 5), max_size=6))
        for step in path:
            keys = list(node) if isinstance(node, dict) else range(len(node))
            if not keys:
                break
            key = list(keys)[step % len(keys)]
            child = node[key]
            if not isinstance(child, (dict, list)) or draw(st.booleans()):
                node[key] = draw(json_values)
                break
            node = child
    return data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, mutated_payloads()))
def test_any_json_parses_or_is_invalid_input(data: Any) -> None:
    try:
        parsed = parse_webhook(json.dumps(data).encode())
    except InvalidInput:
        return
    for event in parsed.events:
        assert isinstance(event, (InboundMessage, StatusUpdate))
        assert event.message_id and event.phone_number_id
        QueueEnvelope(event=event, enqueued_at=dt.datetime.now(dt.UTC)).model_dump_json()


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_invalid_input(body: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse_webhook(body)
