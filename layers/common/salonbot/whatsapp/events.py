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
    wa_id: str  # the customer's WhatsApp id: their number's digits
    timestamp: dt.datetime  # when the customer sent it (UTC)
    type: str = "text"  # text, interactive, button, image, audio, ...
    text: CleanText | None = None  # text body, or caption of media
    interactive: InteractiveReply | None = None
    contact_name: Annotated[str | None, AfterValidator(_clean_name)] = None
    # Type-specific payload for non-text types (location, media id, reaction, ...).
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def phone(self) -> str:
        """E.164 form of the customer's number."""
        return self.wa_id if self.wa_id.startswith("+") else f"+{self.wa_id}"

    @property
    def said(self) -> str:
        """What the customer said: the text, the tapped choice's title (else its id), or
        the kind of media (`[image]`)."""
        if self.text:
            return self.text
        if self.interactive is not None:
            return self.interactive.title or self.interactive.id
        return f"[{self.type}]"

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

    @property
    def group_id(self) -> str:
        return f"{self.phone_number_id}:{self.recipient_id or 'status'}"


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


QueueEvent = Annotated[InboundMessage | StatusUpdate | StaffEcho, Field(discriminator="kind")]


class QueueEnvelope(BaseModel):
    """Body of one SQS message."""

    event: QueueEvent
    enqueued_at: dt.datetime
    # The webhook received the message more than MAX_MESSAGE_AGE_S after the customer
    # sent it: kept for the salon's staff, not answered.
    stale: bool = False
