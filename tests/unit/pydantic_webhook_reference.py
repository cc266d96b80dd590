"""The pydantic parser of Meta's webhook payload that `salonbot.whatsapp.webhook` replaced
(to keep pydantic out of the webhook's cold start), kept as the oracle of the
differential tests: for any body, both refuse it or both produce the same queue events
and the same counts of invalid and ignored items."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from salonbot.clean_text import clean_text
from salonbot.errors import InvalidInput
from salonbot.whatsapp.events import InboundMessage, InteractiveReply, StatusUpdate

WHATSAPP_OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
# Keys of a message common to every type; everything else is type-specific content.
_ENVELOPE_KEYS = frozenset({"from", "from_user_id", "id", "timestamp", "type"})
_SHARED_PARTS = ("context", "referral")

Id = Annotated[str, Field(min_length=1, max_length=512)]
# Seconds since the epoch, as Meta sends it (a string of digits); bounded to datetime's range.
UnixTime = Annotated[int, Field(ge=0, le=253_402_300_799)]


class _Meta(BaseModel):
    # Meta adds fields over time; what this code does not read is ignored.
    model_config = ConfigDict(extra="ignore")


class Change(_Meta):
    field: str
    value: dict[str, Any] = Field(default_factory=dict)


class Entry(_Meta):
    id: str = ""
    changes: list[Change] = Field(default_factory=list)


class WebhookPayload(_Meta):
    object: Literal["whatsapp_business_account"]
    entry: list[Entry]


class Metadata(_Meta):
    phone_number_id: Id
    display_phone_number: str = ""


class Profile(_Meta):
    name: str | None = None


class Contact(_Meta):
    wa_id: str = ""
    user_id: str | None = None
    profile: Profile | None = None


class MessagesValue(_Meta):
    """The `value` of a `messages` change; items are validated one by one."""

    metadata: Metadata
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[Any] = Field(default_factory=list)
    statuses: list[Any] = Field(default_factory=list)


class TextBody(_Meta):
    body: str


class ReplyRow(_Meta):
    id: str
    title: str = ""
    description: str | None = None


class Interactive(_Meta):
    type: str
    button_reply: ReplyRow | None = None
    list_reply: ReplyRow | None = None


class QuickReplyButton(_Meta):
    """A tap on a template's quick-reply button (type `button`)."""

    payload: str | None = None
    text: str = ""


class Message(_Meta):
    from_: Annotated[str | None, Field(alias="from", max_length=64)] = None
    from_user_id: Annotated[str | None, Field(min_length=1, max_length=160)] = None
    id: Id
    timestamp: UnixTime
    type: Annotated[str, Field(min_length=1, max_length=64)]
    text: TextBody | None = None
    interactive: Interactive | None = None
    button: QuickReplyButton | None = None


class StatusError(_Meta):
    code: int | None = None
    title: str | None = None
    message: str | None = None


class Pricing(_Meta):
    category: str | None = None
    type: str | None = None


class Status(_Meta):
    id: Id
    status: Annotated[str, Field(min_length=1, max_length=64)]
    timestamp: UnixTime
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    errors: list[StatusError] = Field(default_factory=list)
    pricing: Pricing | None = None


@dataclass
class ParsedWebhook:
    events: list[InboundMessage | StatusUpdate] = field(default_factory=list)
    invalid: int = 0  # messages, statuses or `messages` changes that did not validate
    ignored: int = 0  # changes of other fields (templates, account updates, ...)


def parse_webhook(body: bytes | str) -> ParsedWebhook:
    """The queue events of one webhook body. Raises `InvalidInput` when the body is not
    JSON or not a WhatsApp Business Account payload."""
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput("not a WhatsApp webhook payload", field=_first_location(exc)) from exc
    parsed = ParsedWebhook()
    for entry in payload.entry:
        for change in entry.changes:
            if change.field != MESSAGES_FIELD:
                parsed.ignored += 1
                continue
            _parse_messages_change(change.value, parsed)
    return parsed


def _first_location(exc: ValidationError) -> str | None:
    errors = exc.errors()
    if not errors or not errors[0]["loc"]:
        return None
    return ".".join(str(part) for part in errors[0]["loc"])


def _parse_messages_change(raw: dict[str, Any], parsed: ParsedWebhook) -> None:
    try:
        value = MessagesValue.model_validate(raw)
    except ValidationError:
        parsed.invalid += 1
        return
    phone_number_id = value.metadata.phone_number_id
    names: dict[str, str] = {}
    for c in value.contacts:
        if c.profile and c.profile.name and _without_nul(c.profile.name):
            names[c.wa_id] = _without_nul(c.profile.name)
            if c.user_id:
                names[c.user_id] = _without_nul(c.profile.name)
    for item in value.messages:
        try:
            parsed.events.append(inbound_message(item, phone_number_id, names))
        except (ValidationError, TypeError):
            parsed.invalid += 1
    for item in value.statuses:
        try:
            parsed.events.append(status_update(item, phone_number_id))
        except (ValidationError, TypeError):
            parsed.invalid += 1


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def inbound_message(
    raw: Any, phone_number_id: str, names: dict[str, str] | None = None
) -> InboundMessage:
    """One of Meta's message objects as the processor reads it. Raises `ValidationError`
    (or `TypeError` for a non-object) when it is not a message."""
    if not isinstance(raw, dict):
        raise TypeError("a message is a JSON object")
    message = Message.model_validate(raw)
    if message.from_user_id is None and ("from" not in raw or not message.from_):
        raise TypeError("a message names its sender")
    sender = message.from_ or message.from_user_id or ""
    kind = message.type
    text: str | None = None
    interactive: InteractiveReply | None = None
    payload: dict[str, Any] = {}
    content = raw.get(kind)
    if kind == "text" and message.text is not None:
        text = _without_nul(message.text.body)
    elif kind == "interactive" and message.interactive is not None:
        reply_kind = message.interactive.type
        row = (
            message.interactive.button_reply
            if reply_kind == "button_reply"
            else message.interactive.list_reply
            if reply_kind == "list_reply"
            else None
        )
        if row is not None:
            interactive = InteractiveReply(
                kind="button_reply" if reply_kind == "button_reply" else "list_reply",
                id=row.id,
                title=row.title,
                description=row.description,
            )
        else:  # e.g. a WhatsApp Flow's nfm_reply: kept for the processor
            payload = dict(content) if isinstance(content, dict) else {}
    elif kind == "button" and message.button is not None:
        button = message.button
        interactive = InteractiveReply(
            kind="button", id=button.payload or button.text, title=button.text
        )
    elif kind in MEDIA_TYPES and isinstance(content, dict):
        payload = dict(content)
        caption = content.get("caption")
        text = _without_nul(caption) or None if isinstance(caption, str) else None
    elif kind == "contacts" and isinstance(content, list):
        payload = {"contacts": content}
    elif kind == "edit" and isinstance(content, dict):
        payload = dict(content)
        new = content.get("message")
        if isinstance(new, dict):
            for key in ("text", new.get("type")):
                part = new.get(key) if isinstance(key, str) else None
                if isinstance(part, dict):
                    value = part.get("body", part.get("caption"))
                    if isinstance(value, str):
                        text = _without_nul(value) or None
                        break
    elif isinstance(content, dict) and kind not in ("text", "interactive", "button"):
        payload = dict(content)  # location, reaction, order, ... and future types
    else:
        # Unknown shape: keep every type-specific key rather than lose what was said.
        payload = {
            k: v for k, v in raw.items() if k not in _ENVELOPE_KEYS and k not in _SHARED_PARTS
        }
    for part in _SHARED_PARTS:
        if isinstance(raw.get(part), dict):
            payload[part] = raw[part]
    return InboundMessage(
        phone_number_id=phone_number_id,
        message_id=message.id,
        wa_id=sender,
        timestamp=_utc(message.timestamp),
        type=kind,
        text=text,
        interactive=interactive,
        contact_name=(names or {}).get(sender) or (names or {}).get(message.from_user_id or ""),
        payload=payload,
        user_id=message.from_user_id,
    )


def status_update(raw: Any, phone_number_id: str) -> StatusUpdate:
    """One of Meta's status objects (sent, delivered, read, failed, ...)."""
    if not isinstance(raw, dict):
        raise TypeError("a status is a JSON object")
    status = Status.model_validate(raw)
    error = status.errors[0] if status.errors else None
    return StatusUpdate(
        phone_number_id=phone_number_id,
        message_id=status.id,
        status=status.status,
        recipient_id=status.recipient_id,
        timestamp=_utc(status.timestamp),
        error_code=error.code if error else None,
        error_title=(error.title or error.message) if error else None,
        recipient_user_id=status.recipient_user_id,
        pricing_category=status.pricing.category if status.pricing else None,
        pricing_type=status.pricing.type if status.pricing else None,
    )


def _without_nul(text: str) -> str:
    """NUL (and the other characters `salonbot.clean_text` drops) dropped: PostgreSQL
    text cannot store them."""
    return clean_text(text)
