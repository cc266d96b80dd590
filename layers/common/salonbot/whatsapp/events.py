"""The customer message every engine reads, and the queue events it arrives in.

One SQS FIFO message carries one `QueueEvent`: a customer message or a delivery status,
already checked and flattened from Meta's nested payload by `salonbot.whatsapp.webhook`
(plain Python, for the webhook's cold start), and validated here by the processor.

`CustomerMessage` is the one type a customer's message has from there to the engines:
the queue's `InboundMessage` is one (with the salon's number and a required id), the HTTP
API builds one from its request, and the turn hands it to the engines inside `TurnInput`.
Decoding cleans every text it carries (`salonbot.clean_text`), so a body queued before
the webhook cleaned it, or an API request, is as safe to store as a fresh webhook's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from salonbot.clean_text import clean_text
from salonbot.whatsapp.content import describe, quoted
from salonbot.whatsapp.identity import customer_key

CleanText = Annotated[str, AfterValidator(clean_text)]


def _clean_name(name: str | None) -> str | None:
    return (clean_text(name) or None) if name else None


class InteractiveReply(BaseModel):
    """A tap on a list row or a reply button (or a template quick-reply button)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["list_reply", "button_reply", "button"]
    id: str  # our own option id, matched exactly: never rewritten
    title: CleanText = ""
    description: CleanText | None = None


class CustomerMessage(BaseModel):
    """One message from a customer, as the turn and the engines read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str | None = None  # wamid, unique per message; None from the HTTP API
    # The customer's WhatsApp id: their number's digits, or their business-scoped user id
    # (`salonbot.whatsapp.identity`) when WhatsApp withholds a username user's number.
    wa_id: str
    timestamp: dt.datetime  # when the customer sent it (UTC)
    type: str = "text"  # text, interactive, button, image, audio, ...
    text: CleanText | None = None  # text body, or caption of media
    interactive: InteractiveReply | None = None
    contact_name: Annotated[str | None, AfterValidator(_clean_name)] = None
    # Type-specific payload for non-text types (location, media id, reaction, ...), with
    # the quoted message (`context`) and the ad the chat came from (`referral`).
    payload: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = None  # the business-scoped user id, when WhatsApp sent one
    # Filled by the processor, never by the channel: the text of our message this one
    # replies to, and a burst's earlier messages this turn answers too (oldest first).
    # (Never serialised: not part of the queue's body.)
    quoted_text: CleanText | None = Field(default=None, exclude=True)
    earlier: tuple[str, ...] = Field(default=(), exclude=True)
    # A photo downloaded for a vision model (`salonbot.assistant.vision`), as a data URL.
    image_data_url: str | None = Field(default=None, exclude=True, repr=False)

    @property
    def phone(self) -> str:
        """The customer's key: E.164 for a number, or their business-scoped user id."""
        return customer_key(self.wa_id)

    @property
    def reply_to_message_id(self) -> str | None:
        """The wamid of the message this one quotes (WhatsApp's `context.id`): a reply to
        one of our messages (a reminder, a confirmation) names it here."""
        context = self.payload.get("context")
        value = context.get("id") if isinstance(context, dict) else None
        return value if isinstance(value, str) and value else None

    @property
    def referral(self) -> dict[str, Any] | None:
        """The click-to-WhatsApp ad (or post) the customer came from: `source_url`,
        `source_id`, `source_type`, `ctwa_clid`, `headline`, ..."""
        referral = self.payload.get("referral")
        return referral if isinstance(referral, dict) and referral else None

    @property
    def media(self) -> tuple[str | None, str | None]:
        """The Cloud API's id and MIME type of the message's media (None, None: none)."""
        if self.type not in ("image", "audio", "video", "document", "sticker"):
            return None, None
        media_id, mime = self.payload.get("id"), self.payload.get("mime_type")
        return (
            media_id if isinstance(media_id, str) and media_id else None,
            mime if isinstance(mime, str) and mime else None,
        )

    @property
    def said(self) -> str:
        """What the customer said: the text (a caption, a transcript), the tapped choice's
        title (else its id), the content of a location, contacts or a reaction, or the
        kind of media (`[image]`)."""
        if self.text:
            return self.text
        if self.interactive is not None:
            return self.interactive.title or self.interactive.id
        return describe(self.type, self.payload) or f"[{self.type}]"

    @property
    def turn_text(self) -> str:
        """What the turn answers: a burst's earlier messages and this one, one a line."""
        return "\n".join((*self.earlier, self.said))

    @property
    def model_text(self) -> str:
        """`turn_text` with the text of the message of ours it replies to, for the model."""
        if self.quoted_text:
            return f"{self.turn_text}\n{quoted(self.quoted_text)}"
        return self.turn_text

    @property
    def in_own_words(self) -> bool:
        """True when `said` is the customer's own text, not our option's title or a
        placeholder: only their own words say which language they speak."""
        return self.interactive is None and bool(self.text)


class InboundMessage(CustomerMessage):
    """A customer message on the queue: WhatsApp's, with the salon's number."""

    kind: Literal["message"] = "message"
    phone_number_id: str  # the salon's WhatsApp number (metadata)
    message_id: str  # wamid, unique per message
    type: str  # required on the queue: the webhook always says

    @property
    def group_id(self) -> str:
        """SQS FIFO message group: one customer of one salon."""
        return f"{self.phone_number_id}:{self.wa_id}"


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["status"] = "status"
    phone_number_id: str
    message_id: str  # wamid of our outgoing message
    status: str  # sent, delivered, read, failed, ...
    recipient_id: str | None = None
    timestamp: dt.datetime
    error_code: int | None = None
    error_title: str | None = None
    # Meta's `pricing` object, when the status carries one.
    pricing_category: str | None = None
    pricing_type: str | None = None
    recipient_user_id: str | None = None  # the recipient's business-scoped user id

    @property
    def group_id(self) -> str:
        recipient = self.recipient_id or self.recipient_user_id or "status"
        return f"{self.phone_number_id}:{recipient}"


class TemplateStatus(BaseModel):
    """Meta's verdict on a message template of a WhatsApp Business Account."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["template_status"] = "template_status"
    waba_id: str
    template_id: str
    name: str
    language: str
    event: str
    reason: str | None = None
    timestamp: dt.datetime

    @property
    def message_id(self) -> str:
        return f"template:{self.template_id}"

    @property
    def group_id(self) -> str:
        return f"waba:{self.waba_id}"


class StaffEcho(BaseModel):
    """A message staff sent from the WhatsApp Business app on the salon's number."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["staff_echo"] = "staff_echo"
    phone_number_id: str
    message_id: str  # wamid of the message staff sent
    to: str  # the customer's WhatsApp id
    timestamp: dt.datetime
    type: str = "text"
    text: CleanText | None = None

    @property
    def group_id(self) -> str:
        return f"{self.phone_number_id}:{self.to}"


QueueEvent = Annotated[
    InboundMessage | StatusUpdate | StaffEcho | TemplateStatus, Field(discriminator="kind")
]


class QueueEnvelope(BaseModel):
    """Body of one SQS message."""

    event: QueueEvent
    enqueued_at: dt.datetime
    # The webhook received the message more than MAX_MESSAGE_AGE_S after the customer
    # sent it: kept for the salon's staff, not answered.
    stale: bool = False
