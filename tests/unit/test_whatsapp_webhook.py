"""Meta's webhook payload flattened into queue events: every message type, statuses,
several entries, changes and messages per POST, lenient items, strict top level. Every
event is read back the way the processor reads it (its queue body validated as
`QueueEnvelope`), and the parser is compared with the pydantic one it replaced."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salonbot.errors import InvalidInput
from salonbot.whatsapp.events import InboundMessage, InteractiveReply, QueueEnvelope, StatusUpdate
from salonbot.whatsapp.webhook import (
    MAX_JSON_DEPTH,
    DeliveryStatus,
    MessageEvent,
    Reply,
    WebhookEvent,
    parse_webhook,
    queue_body,
)
from salonbot_dev.fakes.customer import Choice, CustomerPhone
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
from tests.unit import pydantic_webhook_reference as reference

ENQUEUED_AT = dt.datetime.fromtimestamp(NOW, tz=dt.UTC)


def queued(event: WebhookEvent) -> InboundMessage | StatusUpdate:
    """The event as the processor reads it from the queue."""
    envelope = QueueEnvelope.model_validate_json(queue_body(event, NOW))
    assert envelope.enqueued_at == ENQUEUED_AT
    return envelope.event


def only_message(raw: dict[str, Any]) -> InboundMessage:
    parsed = parse_webhook(body_of(payload(change_value([raw]))))
    assert (parsed.invalid, parsed.ignored) == (0, 0)
    (event,) = parsed.events
    assert isinstance(event, MessageEvent)
    model = queued(event)
    assert isinstance(model, InboundMessage)
    return model


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
    assert [type(e) for e in parsed.events] == [DeliveryStatus] * 3
    sent, _read, fail = (queued(e) for e in parsed.events)
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
        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
    )
    # A template verdict without the template's name cannot be recorded: invalid.
    data["entry"][0]["changes"].append(
        {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
    )
    parsed = parse_webhook(body_of(data))
    assert [e.message_id for e in parsed.events] == ["good"]
    assert (parsed.invalid, parsed.ignored) == (7, 1)


def test_a_template_verdict_names_its_business_account() -> None:
    data = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "time": 1767225600,
                "changes": [
                    {
                        "field": "message_template_status_update",
                        "value": {
                            "event": "REJECTED",
                            "message_template_id": 594425479261596,
                            "message_template_name": "visit_reminder",
                            "message_template_language": "en_US",
                            "reason": "INVALID_FORMAT",
                        },
                    }
                ],
            }
        ],
    }
    parsed = parse_webhook(body_of(data), now=1767225601)
    [event] = parsed.events
    assert event.as_json() == {
        "kind": "template_status",
        "waba_id": "102290129340398",
        "template_id": "594425479261596",
        "name": "visit_reminder",
        "language": "en_US",
        "event": "REJECTED",
        "reason": "INVALID_FORMAT",
        "timestamp": "2026-01-01T00:00:01Z",
    }
    assert event.group_id == "waba:102290129340398"


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
    tap = json.dumps(phone.choice_payload(Choice("slot:1", "10:00", "Анна", "list_reply")))
    choice = parse_webhook(tap.encode()).events[0]
    assert isinstance(text, MessageEvent) and isinstance(choice, MessageEvent)
    assert (text.text, text.contact_name, text.wa_id) == ("Привет", "Ольга", "79001234567")
    assert choice.interactive == Reply("list_reply", "slot:1", "10:00", "Анна")
    assert queued(choice).interactive == InteractiveReply(
        kind="list_reply", id="slot:1", title="10:00", description="Анна"
    )
    assert queued(choice) == reference.parse_webhook(tap).events[0]


EVERY_TYPE = [
    message(message_id="t"),
    message(message_id="t2", context={"from": "79000000001", "id": "wamid.OUT"}),
    message("interactive", {"type": "button_reply", "button_reply": {"id": "b", "title": "Да"}}),
    message(
        "interactive",
        {"type": "list_reply", "list_reply": {"id": "l", "title": "10:00", "description": "A"}},
    ),
    message("interactive", {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}),
    message("button", {"payload": "CONFIRM", "text": "Подтвердить"}),
    message("button", {"text": "Без payload"}),
    *(
        message(kind, {"id": "1", "mime_type": "image/jpeg", "caption": "дизайн"})
        for kind in ("image", "video", "document", "audio", "sticker")
    ),
    message("image", {"id": "2"}),
    message("location", {"latitude": 55.75, "longitude": 37.61, "name": "Салон"}),
    message("contacts", [{"name": {"formatted_name": "Ирина"}, "phones": []}]),
    message("reaction", {"message_id": "wamid.OUT", "emoji": "👍"}),
    message("order", {"catalog_id": "c", "product_items": [{"quantity": 1}]}),
    message("unsupported", None, errors=[{"code": 131051, "title": "Message type unknown"}]),
    message("hologram", {"frames": [1.5, None, True, {"deep": ["x"]}]}),
    message("text", None, text=None),  # a text without a body: kept as it came
    message(content={"body": "x" * 5000}, timestamp=0),
]
EVERY_STATUS = [
    status("sent"),
    status("delivered"),
    status("read", recipient=""),
    status("failed", errors=[{"code": 131047, "title": "Re-engagement message"}]),
    status("failed", errors=[{"code": "131026", "message": "undeliverable"}, {"code": 1}]),
    status("failed", errors=[{"title": ""}]),
    status("deleted", errors=[]),
]


def test_every_body_validates_as_the_queue_envelope_and_matches_the_pydantic_parser() -> None:
    body = body_of(payload(change_value(EVERY_TYPE, EVERY_STATUS)))
    parsed, expected = parse_webhook(body), reference.parse_webhook(body)
    assert (parsed.invalid, parsed.ignored) == (expected.invalid, expected.ignored) == (0, 0)
    assert len(parsed.events) == len(EVERY_TYPE) + len(EVERY_STATUS)
    for event, model in zip(parsed.events, expected.events, strict=True):
        # The processor reads exactly what the pydantic parser produced ...
        assert queued(event) == model
        # ... and the body on the wire has the same fields and values.
        wire = QueueEnvelope(event=model, enqueued_at=ENQUEUED_AT).model_dump_json()
        assert json.loads(queue_body(event, NOW)) == json.loads(wire)
        assert event.group_id == model.group_id


def test_nan_and_infinity_in_a_payload_are_queued_as_null() -> None:
    body = b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":'
    body += b' "messages", "value": {"metadata": {"phone_number_id": "1"}, "messages":'
    body += b' [{"from": "7", "id": "m", "timestamp": "1", "type": "location",'
    body += b' "location": {"latitude": NaN, "longitude": [Infinity, -Infinity, 1e999]}}]}}]}]}'
    (event,) = parse_webhook(body).events
    assert json.loads(queue_body(event, NOW))["event"]["payload"] == {
        "latitude": None,
        "longitude": [None, None, None],
    }
    assert outcome(parse_webhook, body) == outcome(reference.parse_webhook, body)


@pytest.mark.parametrize(
    ("escape", "valid"),
    [
        (r"\ud83d\ude00", True),  # a surrogate pair: one emoji
        (r"\\ud800", True),  # an escaped backslash, then text
        (r"\ud800", False),
        (r"\udc00", False),
        (r"\ud800\u0041", False),
        (r"\udc00\ud800", False),
        (r"\uD800x", False),
    ],
)
def test_lone_surrogate_escapes_are_refused_anywhere(escape: str, valid: bool) -> None:
    for data in (
        text_with("MARK"),
        {"object": "whatsapp_business_account", "entry": [], "note": "MARK"},
        {"object": "whatsapp_business_account", "entry": [], "MARK": 1},
    ):
        body = json.dumps(data).replace("MARK", escape).encode()
        assert outcome(parse_webhook, body) == outcome(reference.parse_webhook, body)
        assert (outcome(parse_webhook, body)[0] != "refused") is valid, body


def text_with(body: str) -> dict[str, Any]:
    return payload(change_value([message(content={"body": body})]))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 5000])
@pytest.mark.parametrize("innermost", ["[]", "{}", "1", '{"a": 1}', "[1]"])
def test_nesting_is_refused_beyond_the_queue_s_limit(depth: int, innermost: str) -> None:
    # Counting the payload's own levels, the nested value sits 7 deep.
    for opening, closing in (("[", "]"), ('{"k": ', "}")):
        nested = opening * (depth - 7) + innermost + closing * (depth - 7)
        data = text_with("text")
        data["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["extra"] = "NESTED"
        body = json.dumps(data).replace('"NESTED"', nested).encode()
        assert outcome(parse_webhook, body) == outcome(reference.parse_webhook, body)


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


# Values that sit on the edges of what a field accepts: integers as text (white space,
# underscores, zero fractions), floats, bools, empty and over-long strings, non-finite numbers.
EDGES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        1.0,
        1.5,
        -0.0,
        1e300,
        float("nan"),
        float("inf"),
        2**70,
        "",
        " ",
        "a",
        " 1900000000 ",
        "1_900_000_000",
        "1__0",
        "_1",
        "1900000000.00",
        "1900000000.",
        "1.0_0",
        "+5",
        "-5",
        "١٢",
        "12\u3000",
        "\x1c12",
        "12\x85",
        "x" * 65,
        "x" * 513,
        "253402300799",
        253_402_300_800,
        9.3e18,
    ]
)
MISSING = object()


def field_of(valid: Any, *also: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the valid value; else an edge, any JSON, or the key left out."""
    return st.one_of(st.just(valid), st.just(valid), EDGES, json_values, st.just(MISSING), *also)


def shaped(**parts: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(parts).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING}
    )


ROW = shaped(id=field_of("row:1"), title=field_of("Маникюр"), description=field_of("60 мин"))
PART = st.one_of(
    shaped(body=field_of("Привет")),
    shaped(
        type=field_of("list_reply", st.sampled_from(["button_reply", "nfm_reply"])),
        button_reply=field_of({"id": "b"}, ROW),
        list_reply=field_of({"id": "l"}, ROW),
    ),
    shaped(payload=field_of("CONFIRM"), text=field_of("Да")),
    shaped(id=field_of("media:1"), caption=field_of("дизайн")),
    EDGES,
    json_values,
)
MESSAGE_TYPES = [*KINDS, "video", "sticker", "unsupported", "id", "from", "context"]
MESSAGES = st.sampled_from(MESSAGE_TYPES).flatmap(
    lambda kind: shaped(
        **{
            "from": field_of(CUSTOMER),
            "id": field_of("wamid.M"),
            "timestamp": field_of(str(int(NOW))),
            "type": field_of(kind, st.sampled_from(MESSAGE_TYPES)),
            kind: field_of({"body": "Привет"}, PART),
            "text": field_of(MISSING, PART),
            "interactive": field_of(MISSING, PART),
            "button": field_of(MISSING, PART),
            "context": field_of(MISSING, PART),
        }
    )
)
STATUS_ERROR = shaped(code=field_of(131047), title=field_of("Re-engagement"), message=field_of("m"))
STATUSES = shaped(
    id=field_of("wamid.S"),
    status=field_of("read"),
    timestamp=field_of(int(NOW)),
    recipient_id=field_of(CUSTOMER),
    errors=field_of([], st.lists(STATUS_ERROR, max_size=2)),
)
CONTACT = shaped(wa_id=field_of(CUSTOMER), profile=field_of({"name": "Анна"}, shaped(name=EDGES)))
VALUE = shaped(
    metadata=field_of(
        {"phone_number_id": PHONE_NUMBER_ID},
        shaped(phone_number_id=field_of("1"), display_phone_number=field_of("+7 900")),
    ),
    contacts=field_of([], st.lists(CONTACT, max_size=2)),
    messages=field_of([], st.lists(MESSAGES, max_size=3)),
    statuses=field_of([], st.lists(STATUSES, max_size=2)),
)
CHANGE = shaped(field=field_of("messages"), value=field_of({}, VALUE))
ENTRY = shaped(id=field_of("1"), changes=field_of([], st.lists(CHANGE, max_size=3)))
META_LIKE = shaped(
    object=field_of("whatsapp_business_account"),
    entry=field_of([], st.lists(ENTRY, max_size=2)),
)


def outcome(parse: Callable[[bytes], Any], body: bytes) -> tuple[Any, ...]:
    """What the queue would get: refused (and the first wrong field), or the counts and
    the queue bodies, as JSON and as the processor's models."""
    try:
        parsed = parse(body)
    except InvalidInput as exc:
        return ("refused", exc.field)
    bodies = [
        queue_body(e, NOW)
        if isinstance(e, MessageEvent | DeliveryStatus)
        else QueueEnvelope(event=e, enqueued_at=ENQUEUED_AT).model_dump_json()
        for e in parsed.events
    ]
    return (
        parsed.invalid,
        parsed.ignored,
        [json.loads(b) for b in bodies],
        [QueueEnvelope.model_validate_json(b) for b in bodies],
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, mutated_payloads(), META_LIKE))
def test_any_json_parses_or_is_invalid_input(data: Any) -> None:
    try:
        parsed = parse_webhook(json.dumps(data).encode())
    except InvalidInput:
        return
    for event in parsed.events:
        assert isinstance(event, MessageEvent | DeliveryStatus)
        assert event.message_id and event.phone_number_id
        assert queued(event).message_id == event.message_id


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, mutated_payloads(), META_LIKE, META_LIKE))
def test_the_same_outcome_as_the_pydantic_parser(data: Any) -> None:
    for body in (json.dumps(data).encode(), json.dumps(data, ensure_ascii=False).encode()):
        assert outcome(parse_webhook, body) == outcome(reference.parse_webhook, body)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_invalid_input(body: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        parse_webhook(body)
    assert outcome(parse_webhook, body) == outcome(reference.parse_webhook, body)


@pytest.mark.parametrize(
    ("raw", "name", "text"),
    [
        (message(content={"body": "При\u0000вет\u0000"}), "Ан\u0000на", "Привет"),
        (message("image", {"id": "1", "caption": "ди\u0000зайн"}), "\u0000Анна", "дизайн"),
        (message("image", {"id": "1", "caption": "\u0000"}), "\u0000", None),
    ],
    ids=["text", "caption", "only-nul"],
)
def test_nul_characters_are_dropped_from_texts_captions_and_names(
    raw: dict[str, Any], name: str, text: str | None
) -> None:
    contacts = [{"profile": {"name": name}, "wa_id": CUSTOMER}]
    body = body_of(payload(change_value([raw], contacts=contacts)))

    (event,) = parse_webhook(body).events

    assert isinstance(event, MessageEvent)
    assert event.text == text
    assert event.contact_name == (None if name == "\u0000" else "Анна")
    assert "\\u0000" not in queue_body(event, NOW).split('"payload"')[0]
    assert queued(event) == reference.parse_webhook(body).events[0]
