"""The normalised inbound events the webhook puts on the queue and the processor reads.

One SQS FIFO message carries one `QueueEvent`: a customer message or a delivery status,
already checked and flattened from Meta's nested payload."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class InteractiveReply(BaseModel):
    """A tap on a list row or a reply button (or a template quick-reply button)."""

    kind: Literal["list_reply", "button_reply", "button"]
    id: str
    title: str = ""
    description: str | None = None


class InboundMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["message"] = "message"
    phone_number_id: str  # the salon's WhatsApp number (metadata)
    message_id: str  # wamid, unique per message
    wa_id: str  # the customer's WhatsApp id (digits)
    timestamp: dt.datetime  # when the customer sent it (UTC)
    type: str  # text, interactive, button, image, audio, ...
    text: str | None = None  # text body, or caption of media
    interactive: InteractiveReply | None = None
    contact_name: str | None = None
    # Type-specific payload for non-text types (location, media id, reaction, ...).
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def phone(self) -> str:
        """E.164 form of the customer's number."""
        return self.wa_id if self.wa_id.startswith("+") else f"+{self.wa_id}"

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


QueueEvent = Annotated[InboundMessage | StatusUpdate, Field(discriminator="kind")]


class QueueEnvelope(BaseModel):
    """Body of one SQS message."""

    event: QueueEvent
    enqueued_at: dt.datetime
