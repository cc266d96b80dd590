"""Outgoing WhatsApp messages: plain text, interactive list, reply buttons.

Models enforce WhatsApp's limits (10 list rows, 24-char row titles, 3 buttons of 20
chars) by truncating titles, so a long service name never makes the send API reject
the whole reply. `to_payload` renders the Cloud API body; `to_plain_text` renders
numbered options for channels without interactive messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from salonbot.whatsapp.identity import send_address

LIST_ROW_TITLE_MAX = 24
LIST_ROW_DESCRIPTION_MAX = 72
LIST_ROWS_MAX = 10
BUTTON_TITLE_MAX = 20
BUTTONS_MAX = 3
BODY_MAX = 1024
TEXT_MAX = 4096


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


class Option(BaseModel):
    """One choice: a list row or a reply button. `id` comes back in the reply."""

    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1)
    description: str | None = None


class TextMessage(BaseModel):
    type: Literal["text"] = "text"
    body: str = Field(min_length=1)

    @field_validator("body")
    @classmethod
    def _clip_body(cls, value: str) -> str:
        return _clip(value, TEXT_MAX)


class ListMessage(BaseModel):
    type: Literal["list"] = "list"
    body: str = Field(min_length=1)
    button: str = Field(min_length=1)  # label of the button that opens the list
    options: list[Option] = Field(min_length=1, max_length=LIST_ROWS_MAX)


class ButtonsMessage(BaseModel):
    type: Literal["buttons"] = "buttons"
    body: str = Field(min_length=1)
    options: list[Option] = Field(min_length=1, max_length=BUTTONS_MAX)


OutgoingMessage = Annotated[TextMessage | ListMessage | ButtonsMessage, Field(discriminator="type")]


def to_payload(message: TextMessage | ListMessage | ButtonsMessage, to: str) -> dict[str, Any]:
    """The Cloud API `POST /{phone_number_id}/messages` body, addressed `to` a number or
    to a `recipient`'s business-scoped user id."""
    base: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    base.update(send_address(to))
    if isinstance(message, TextMessage):
        return {**base, "type": "text", "text": {"body": message.body, "preview_url": False}}
    body = {"text": _clip(message.body, BODY_MAX)}
    if isinstance(message, ListMessage):
        rows = []
        for option in message.options:
            row = {"id": option.id, "title": _clip(option.title, LIST_ROW_TITLE_MAX)}
            if option.description:
                row["description"] = _clip(option.description, LIST_ROW_DESCRIPTION_MAX)
            rows.append(row)
        action = {
            "button": _clip(message.button, BUTTON_TITLE_MAX),
            "sections": [{"title": _clip(message.button, LIST_ROW_TITLE_MAX), "rows": rows}],
        }
        return {
            **base,
            "type": "interactive",
            "interactive": {"type": "list", "body": body, "action": action},
        }
    buttons = [
        {"type": "reply", "reply": {"id": o.id, "title": _clip(o.title, BUTTON_TITLE_MAX)}}
        for o in message.options
    ]
    return {
        **base,
        "type": "interactive",
        "interactive": {"type": "button", "body": body, "action": {"buttons": buttons}},
    }


def to_plain_text(message: TextMessage | ListMessage | ButtonsMessage) -> str:
    """Numbered options for channels without interactive messages (API, terminal chat)."""
    if isinstance(message, TextMessage):
        return message.body
    lines = [message.body, ""]
    for number, option in enumerate(message.options, start=1):
        suffix = f" — {option.description}" if option.description else ""
        lines.append(f"{number}. {option.title}{suffix}")
    return "\n".join(lines)
