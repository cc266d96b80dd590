"""Meta's webhook payload (WhatsApp Cloud API) and its flattening into queue events.

One POST carries entries, each with changes; a `messages` change carries the salon's
number (`metadata.phone_number_id`), the customers' profiles, their messages and the
delivery statuses of our replies. Each message and status becomes one event, and each
event one queue body: the JSON of `salonbot.whatsapp.events.QueueEnvelope`, which the
processor validates.

Parsing is strict at the top (not a WhatsApp payload: the request is refused) and
lenient below: a message or status that does not have the expected shape is skipped and
counted, so one odd item never makes Meta retry, for days, the good ones posted with it.
Message types this code does not know yet are kept, with their type-specific content in
`payload`. Text bodies, captions, contact names and the titles of tapped options go
through `salonbot.clean_text` (no NUL, which PostgreSQL cannot hold, nor other control
characters); lone surrogate escapes refuse the whole body.

Plain Python on purpose: Meta waits on the webhook's cold start, and importing pydantic
and building models with it added about two thirds of boto3's own import time. The
checks are the ones the pydantic models made, in pydantic's lax mode (a timestamp may be
a string of digits; a field Meta may omit may be absent or null where the model allowed
it, never of another type). `tests/unit/test_whatsapp_webhook.py` compares this parser
with those models (`tests/unit/pydantic_webhook_reference.py`) on generated payloads.

No `from __future__ import annotations` here, for the same cold start: with it, every
field of a `NamedTuple` is a string that `typing` compiles into a `ForwardRef` when the
class is created, a cost several times that of the class itself."""

import datetime as dt
import json
import math
from typing import Any, NamedTuple

from salonbot.clean_text import clean_text
from salonbot.errors import InvalidInput
from salonbot.lax import lax_int

WHATSAPP_OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
TEMPLATE_STATUS_FIELD = "message_template_status_update"
# Coexistence: what staff send from the WhatsApp Business app on the salon's number.
ECHOES_FIELD = "smb_message_echoes"
MAX_ECHO_CHARS = 4096
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
# Message types that are events about the chat, not requests: never answered.
NOT_REQUESTS = frozenset({"reaction", "edit", "revoke", "system"})
# Keys of a message common to every type; everything else is type-specific content.
_ENVELOPE_KEYS = frozenset({"from", "from_user_id", "id", "timestamp", "type"})
# Parts of any message type that are kept beside its own content: the message it quotes
# (`context`) and the click-to-WhatsApp ad it came from (`referral`).
_SHARED_PARTS = ("context", "referral")

MAX_ID_LENGTH = 512  # message ids and the salon's phone number id
MAX_WORD_LENGTH = 64  # sender's number, message type, status
MAX_USER_ID_LENGTH = 160  # a business-scoped user id: "US." and up to 128 characters
# Seconds since the epoch, as Meta sends it (a string of digits); bounded to datetime's range.
MAX_UNIX_TIME = 253_402_300_799
# JSON nested deeper than this (counting non-empty arrays and objects) is refused, as the
# queue's consumer would refuse it.
MAX_JSON_DEPTH = 200

_NOT_WHATSAPP = "not a WhatsApp webhook payload"
_MISSING: Any = object()


class _Invalid(Exception):
    """This item does not have the shape its event needs."""


class Reply(NamedTuple):
    """A tap on a list row or a reply button (or a template quick-reply button)."""

    kind: str  # list_reply, button_reply, button
    id: str
    title: str
    description: str | None


# The events are named tuples, not dataclasses: creating those classes at import costs
# several times more, on a cold start Meta waits on. Fields in the queue models' order.
class MessageEvent(NamedTuple):
    """A customer's message: `salonbot.whatsapp.events.InboundMessage` on the queue."""

    phone_number_id: str  # the salon's WhatsApp number (metadata)
    message_id: str  # wamid, unique per message
    # The customer: their number's digits (`from`), or their business-scoped user id
    # (`from_user_id`) when WhatsApp withholds the number of a user with a username.
    wa_id: str
    timestamp: int  # when the customer sent it, seconds since the epoch
    type: str  # text, interactive, button, image, audio, ...
    text: str | None  # text body, or caption of media
    interactive: Reply | None
    contact_name: str | None
    # Type-specific content for non-text types (location, media id, reaction, ...).
    payload: dict[str, Any]
    user_id: str | None = None  # the business-scoped user id (`from_user_id`), when sent

    @property
    def kind(self) -> str:
        return "message"

    @property
    def group_id(self) -> str:
        """SQS FIFO message group: one customer of one salon."""
        return f"{self.phone_number_id}:{self.wa_id}"

    @property
    def deduplication_id(self) -> str:
        return self.message_id

    def as_json(self) -> dict[str, Any]:
        """The queue's `InboundMessage`, field for field."""
        reply = self.interactive
        return {
            "kind": "message",
            **self._asdict(),
            "timestamp": iso_time(self.timestamp),
            "interactive": None if reply is None else reply._asdict(),
        }


class DeliveryStatus(NamedTuple):
    """The delivery status of one of our messages: `StatusUpdate` on the queue."""

    phone_number_id: str
    message_id: str  # wamid of our outgoing message
    status: str  # sent, delivered, read, failed, ...
    recipient_id: str | None
    timestamp: int  # seconds since the epoch
    error_code: int | None  # of the first error Meta reports
    error_title: str | None
    recipient_user_id: str | None = None  # the recipient's business-scoped user id
    # Meta's `pricing` object: the category the message is billed as, and its type
    # (`regular`, or `free_customer_service` / `free_entry_point`).
    pricing_category: str | None = None
    pricing_type: str | None = None

    @property
    def kind(self) -> str:
        return "status"

    @property
    def group_id(self) -> str:
        recipient = self.recipient_id or self.recipient_user_id or "status"
        return f"{self.phone_number_id}:{recipient}"

    @property
    def deduplication_id(self) -> str:
        return f"{self.message_id}:{self.status}"

    def as_json(self) -> dict[str, Any]:
        """The queue's `StatusUpdate`, field for field."""
        return {"kind": "status", **self._asdict(), "timestamp": iso_time(self.timestamp)}


class TemplateStatusEvent(NamedTuple):
    """Meta's verdict on one of a business's message templates: `TemplateStatus` on the
    queue."""

    waba_id: str  # the WhatsApp Business Account (the entry's id)
    template_id: str
    name: str
    language: str
    event: str  # APPROVED, REJECTED, PAUSED, DISABLED, ...
    reason: str | None
    timestamp: int  # when the webhook received it (Meta sends none)

    @property
    def kind(self) -> str:
        return "template_status"

    @property
    def group_id(self) -> str:
        return f"waba:{self.waba_id}"

    @property
    def deduplication_id(self) -> str:
        return f"{self.template_id}:{self.event}:{self.timestamp}"

    def as_json(self) -> dict[str, Any]:
        return {"kind": "template_status", **self._asdict(), "timestamp": iso_time(self.timestamp)}


class StaffEcho(NamedTuple):
    """A message the salon's staff sent from the WhatsApp Business app (coexistence):
    `salonbot.whatsapp.events.StaffEcho` on the queue."""

    phone_number_id: str
    message_id: str  # wamid of the message staff sent
    to: str  # the customer's WhatsApp id (digits)
    timestamp: int
    type: str
    text: str | None

    @property
    def kind(self) -> str:
        return "staff_echo"

    @property
    def group_id(self) -> str:
        """The customer's own group: the echo is ordered with their messages."""
        return f"{self.phone_number_id}:{self.to}"

    @property
    def deduplication_id(self) -> str:
        return f"echo:{self.message_id}"

    def as_json(self) -> dict[str, Any]:
        return {"kind": "staff_echo", **self._asdict(), "timestamp": iso_time(self.timestamp)}


WebhookEvent = MessageEvent | DeliveryStatus | StaffEcho | TemplateStatusEvent


class ParsedWebhook:
    __slots__ = ("events", "ignored", "invalid")

    def __init__(self) -> None:
        self.events: list[WebhookEvent] = []
        self.invalid = 0  # messages, statuses or `messages` changes without the expected shape
        self.ignored = 0  # changes of other fields (templates, account updates, ...)


def parse_webhook(body: bytes | str, *, now: float | None = None) -> ParsedWebhook:
    """The queue events of one webhook body. Raises `InvalidInput` when the body is not
    JSON or not a WhatsApp Business Account payload."""
    data = load_json(body)
    changes = _changes(data)
    parsed = ParsedWebhook()
    for change in changes:
        if change["field"] == TEMPLATE_STATUS_FIELD:
            _parse_template_change(data, change, parsed, now)
            continue
        if change["field"] == ECHOES_FIELD:
            _parse_echoes_change(change.get("value", {}), parsed)
            continue
        if change["field"] != MESSAGES_FIELD:
            parsed.ignored += 1
            continue
        _parse_messages_change(change.get("value", {}), parsed)
    return parsed


def _parse_echoes_change(value: dict[str, Any], parsed: ParsedWebhook) -> None:
    """One `smb_message_echoes` change: `message_echoes`, each `from` the salon's number
    `to` a customer."""
    try:
        metadata = _object(value.get("metadata", _MISSING))
        phone_number_id = _text(metadata.get("phone_number_id", _MISSING), 1, MAX_ID_LENGTH)
        echoes = _list(value.get("message_echoes", []))
    except _Invalid:
        parsed.invalid += 1
        return
    for raw in echoes:
        try:
            echo = _object(raw)
            kind = _text(echo.get("type", _MISSING), 1, MAX_WORD_LENGTH)
            body = _optional_object(echo.get("text")) or {}
            text = _optional_text(body.get("body"))
            parsed.events.append(
                StaffEcho(
                    phone_number_id=phone_number_id,
                    message_id=_text(echo.get("id", _MISSING), 1, MAX_ID_LENGTH),
                    to=_text(echo.get("to", _MISSING), 1, MAX_WORD_LENGTH),
                    timestamp=_unix_time(echo.get("timestamp", _MISSING)),
                    type=kind,
                    text=text[:MAX_ECHO_CHARS] if text else None,
                )
            )
        except _Invalid:
            parsed.invalid += 1


def load_json(body: bytes | str) -> Any:
    """Strict JSON: UTF-8, no lone surrogate escapes, at most `MAX_JSON_DEPTH` deep
    (NaN and Infinity are read, and written to the queue as null)."""
    try:
        text = body.decode() if isinstance(body, bytes) else body
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidInput(_NOT_WHATSAPP) from exc
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(data) > MAX_JSON_DEPTH:
        raise InvalidInput(_NOT_WHATSAPP)
    # Only an escape (`\uD800`..`\uDFFF`) gives bytes a surrogate: `\ud`/`\uD` is a
    # cheap superset of those to look for.
    if not isinstance(body, bytes) or "\\ud" in text or "\\uD" in text:
        try:  # json pairs surrogate escapes; any left alone cannot be encoded
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError as exc:
            raise InvalidInput(_NOT_WHATSAPP) from exc
    return data


def _depth(data: Any) -> int:
    """Nesting of non-empty arrays and objects (iterative: any depth json reads)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if not node or not isinstance(node, dict | list):
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth) for child in children)
    return deepest


def _changes(data: Any) -> list[dict[str, Any]]:
    """Every change of every entry, after checking the whole envelope: one that is not
    Meta's refuses the request (`InvalidInput` naming the first wrong field)."""
    if not isinstance(data, dict):
        raise InvalidInput(_NOT_WHATSAPP)
    if data.get("object") != WHATSAPP_OBJECT:
        raise InvalidInput(_NOT_WHATSAPP, field="object")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise InvalidInput(_NOT_WHATSAPP, field="entry")
    changes: list[dict[str, Any]] = []
    for n, entry in enumerate(entries):
        where = f"entry.{n}"
        if not isinstance(entry, dict):
            raise InvalidInput(_NOT_WHATSAPP, field=where)
        if not isinstance(entry.get("id", ""), str):
            raise InvalidInput(_NOT_WHATSAPP, field=f"{where}.id")
        items = entry.get("changes", [])
        if not isinstance(items, list):
            raise InvalidInput(_NOT_WHATSAPP, field=f"{where}.changes")
        for m, change in enumerate(items):
            at = f"{where}.changes.{m}"
            if not isinstance(change, dict):
                raise InvalidInput(_NOT_WHATSAPP, field=at)
            if not isinstance(change.get("field"), str):
                raise InvalidInput(_NOT_WHATSAPP, field=f"{at}.field")
            if not isinstance(change.get("value", {}), dict):
                raise InvalidInput(_NOT_WHATSAPP, field=f"{at}.value")
            changes.append(change)
    return changes


def _parse_messages_change(value: dict[str, Any], parsed: ParsedWebhook) -> None:
    """One `messages` change. Without the salon's number, or with contacts, messages or
    statuses that are not lists, the whole change is skipped (counted once)."""
    try:
        metadata = _object(value.get("metadata", _MISSING))
        phone_number_id = _text(metadata.get("phone_number_id", _MISSING), 1, MAX_ID_LENGTH)
        _text(metadata.get("display_phone_number", ""))
        names = _contact_names(_list(value.get("contacts", [])))
        messages = _list(value.get("messages", []))
        statuses = _list(value.get("statuses", []))
    except _Invalid:
        parsed.invalid += 1
        return
    for item in messages:
        try:
            parsed.events.append(customer_message(item, phone_number_id, names))
        except _Invalid:
            parsed.invalid += 1
    for item in statuses:
        try:
            parsed.events.append(delivery_status(item, phone_number_id))
        except _Invalid:
            parsed.invalid += 1


def _parse_template_change(
    data: dict[str, Any], change: dict[str, Any], parsed: ParsedWebhook, now: float | None
) -> None:
    """A `message_template_status_update` change: its WABA is the entry holding it."""
    import time

    waba_id = next(
        (
            str(entry.get("id", ""))
            for entry in data["entry"]
            if any(c is change for c in entry.get("changes", []))
        ),
        "",
    )
    value = change.get("value", {})
    try:
        parsed.events.append(
            TemplateStatusEvent(
                waba_id=_text(waba_id, 1, MAX_ID_LENGTH),
                template_id=_text(str(value.get("message_template_id", "")), 1, MAX_ID_LENGTH),
                name=_text(value.get("message_template_name", _MISSING), 1, MAX_ID_LENGTH),
                language=_text(value.get("message_template_language", _MISSING), 1, 16),
                event=_text(value.get("event", _MISSING), 1, MAX_WORD_LENGTH),
                reason=_optional_text(value.get("reason")),
                timestamp=int(time.time() if now is None else now),
            )
        )
    except _Invalid:
        parsed.invalid += 1


def _contact_names(contacts: list[Any]) -> dict[str, str]:
    """Profile names by the customer's number and by their user id (either may be all
    a username user's contact carries)."""
    names: dict[str, str] = {}
    for raw in contacts:
        contact = _object(raw)
        wa_id = _text(contact.get("wa_id", ""))
        user_id = _optional_text(contact.get("user_id"))
        profile = _optional_object(contact.get("profile"))
        name = _optional_text(profile.get("name")) if profile is not None else None
        name = clean_text(name) if name else name
        if name:
            names[wa_id] = name
            if user_id:
                names[user_id] = name
    return names


def customer_message(
    raw: Any, phone_number_id: str, names: dict[str, str] | None = None
) -> MessageEvent:
    """One of Meta's message objects as the processor reads it. Raises `_Invalid` when it
    is not a message (no sender, id, time or type, or a known part of the wrong shape)."""
    message = _object(raw)
    user_id = _optional_text(message.get("from_user_id"))
    if user_id is not None:
        _text(user_id, 1, MAX_USER_ID_LENGTH)
    number = message.get("from", _MISSING)
    if user_id is not None and number in (None, _MISSING):
        number = ""  # a username user's number is withheld
    sender = _text(number, 0, MAX_WORD_LENGTH) or _text(user_id, 1, MAX_USER_ID_LENGTH)
    message_id = _text(message.get("id", _MISSING), 1, MAX_ID_LENGTH)
    timestamp = _unix_time(message.get("timestamp", _MISSING))
    kind = _text(message.get("type", _MISSING), 1, MAX_WORD_LENGTH)
    # The parts this code reads are checked whatever the type says.
    text_part = _optional_object(message.get("text"))
    body = _text(text_part.get("body", _MISSING)) if text_part is not None else None
    interactive_part = _optional_object(message.get("interactive"))
    reply_kind: str | None = None
    rows: dict[str, Reply | None] = {}
    if interactive_part is not None:
        reply_kind = _text(interactive_part.get("type", _MISSING))
        for row_kind in ("button_reply", "list_reply"):
            rows[row_kind] = _reply_row(row_kind, interactive_part.get(row_kind))
    button_part = _optional_object(message.get("button"))
    button_payload: str | None = None
    button_text = ""
    if button_part is not None:
        button_payload = _optional_text(button_part.get("payload"))
        button_text = _text(button_part.get("text", ""))

    text: str | None = None
    interactive: Reply | None = None
    payload: dict[str, Any] = {}
    content = message.get(kind)
    if kind == "text" and body is not None:
        text = clean_text(body)
    elif kind == "interactive" and interactive_part is not None:
        row = rows.get(reply_kind or "")
        if row is not None:
            interactive = row
        else:  # e.g. a WhatsApp Flow's nfm_reply: kept for the processor
            payload = dict(content) if isinstance(content, dict) else {}
    elif kind == "button" and button_part is not None:
        interactive = Reply("button", button_payload or button_text, clean_text(button_text), None)
    elif kind in MEDIA_TYPES and isinstance(content, dict):
        payload = dict(content)
        caption = content.get("caption")
        text = (clean_text(caption) or None) if isinstance(caption, str) else None
    elif kind == "contacts" and isinstance(content, list):
        payload = {"contacts": content}
    elif kind == "edit" and isinstance(content, dict):
        # The customer corrected an earlier message: its new text (or caption) is kept.
        payload = dict(content)
        text = _edited_text(content.get("message"))
    elif isinstance(content, dict) and kind not in ("text", "interactive", "button"):
        payload = dict(content)  # location, reaction, order, ... and future types
    else:
        # Unknown shape: keep every type-specific key rather than lose what was said.
        payload = {
            k: v for k, v in message.items() if k not in _ENVELOPE_KEYS and k not in _SHARED_PARTS
        }
    for part in _SHARED_PARTS:
        if isinstance(message.get(part), dict):
            payload[part] = message[part]
    return MessageEvent(
        phone_number_id=phone_number_id,
        message_id=message_id,
        wa_id=sender,
        timestamp=timestamp,
        type=kind,
        text=text,
        interactive=interactive,
        contact_name=(names or {}).get(sender) or (names or {}).get(user_id or ""),
        payload=payload,
        user_id=user_id,
    )


def _edited_text(raw: Any) -> str | None:
    """The text body or caption of an edit's new message, if it has one."""
    if not isinstance(raw, dict):
        return None
    for key in ("text", raw.get("type")):
        part = raw.get(key) if isinstance(key, str) else None
        if isinstance(part, dict):
            value = part.get("body", part.get("caption"))
            if isinstance(value, str):
                return clean_text(value) or None
    return None


def _reply_row(kind: str, raw: Any) -> Reply | None:
    row = _optional_object(raw)
    if row is None:
        return None
    description = _optional_text(row.get("description"))
    return Reply(
        kind,
        _text(row.get("id", _MISSING)),  # our own option id: matched exactly, never cleaned
        clean_text(_text(row.get("title", ""))),
        None if description is None else clean_text(description),
    )


def delivery_status(raw: Any, phone_number_id: str) -> DeliveryStatus:
    """One of Meta's status objects (sent, delivered, read, failed, ...), with its first
    error. Raises `_Invalid` when it is not a status."""
    status = _object(raw)
    message_id = _text(status.get("id", _MISSING), 1, MAX_ID_LENGTH)
    state = _text(status.get("status", _MISSING), 1, MAX_WORD_LENGTH)
    timestamp = _unix_time(status.get("timestamp", _MISSING))
    recipient_id = _optional_text(status.get("recipient_id"))
    recipient_user_id = _optional_text(status.get("recipient_user_id"))
    errors = []
    for raw_error in _list(status.get("errors", [])):
        error = _object(raw_error)
        errors.append(
            (
                _optional_int(error.get("code")),
                _optional_text(error.get("title")),
                _optional_text(error.get("message")),
            )
        )
    code, title, detail = errors[0] if errors else (None, None, None)
    pricing = _optional_object(status.get("pricing"))
    return DeliveryStatus(
        phone_number_id=phone_number_id,
        message_id=message_id,
        status=state,
        timestamp=timestamp,
        recipient_id=recipient_id,
        error_code=code,
        error_title=(title or detail) if errors else None,
        recipient_user_id=recipient_user_id,
        pricing_category=_optional_text(pricing.get("category")) if pricing else None,
        pricing_type=_optional_text(pricing.get("type")) if pricing else None,
    )


def iso_time(seconds: float) -> str:
    """UTC, ISO 8601 with `Z`, as the queue's models write their datetimes."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def queue_body(event: WebhookEvent, enqueued_at: float, *, stale: bool = False) -> str:
    """The SQS message body for one event: `QueueEnvelope` as JSON."""
    envelope = {"event": event.as_json(), "enqueued_at": iso_time(enqueued_at), "stale": stale}
    try:
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or Infinity somewhere in a payload: null, as JSON has no such
        return json.dumps(_finite(envelope), ensure_ascii=False, separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _unix_time(value: Any) -> int:
    try:
        seconds = lax_int(value)
    except ValueError as exc:
        raise _Invalid from exc
    if not 0 <= seconds <= MAX_UNIX_TIME:
        raise _Invalid
    return seconds


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return lax_int(value)
    except ValueError as exc:
        raise _Invalid from exc


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid
    return value


def _optional_object(value: Any) -> dict[str, Any] | None:
    return None if value is None else _object(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid
    return value


def _text(value: Any, min_length: int = 0, max_length: int | None = None) -> str:
    if not isinstance(value, str) or len(value) < min_length:
        raise _Invalid
    if max_length is not None and len(value) > max_length:
        raise _Invalid
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)
