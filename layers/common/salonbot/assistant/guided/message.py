"""One customer message as the guided dialogue reads it: the words, or the id of the option
tapped, and what an effect needs (the WhatsApp message id, for an idempotent booking)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from salonbot.assistant.base import TurnInput

MEDIA_TYPES = frozenset({"audio", "voice", "video", "image", "document", "sticker", "location"})
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
_LETTER = re.compile(r"[A-Za-zА-Яа-яЁё]")


@dataclass(frozen=True)
class GuidedMessage:
    text: str = ""  # the text body ('' for a tap or media without a caption)
    tapped: str | None = None  # the id of the option tapped; None: not a tap
    message_type: str = "text"
    message_id: str | None = None  # wamid: the same message never books twice
    contact_name: str | None = None
    # The booking of our message this one replies to (a confirmation): "отменить" or
    # "перенести" quoting it is about that booking (`salonbot.outbound.quoted`).
    quoted_booking: str | None = None

    @classmethod
    def from_turn(cls, turn: TurnInput, *, quoted_booking: str | None = None) -> GuidedMessage:
        return cls(
            text=turn.text,
            tapped=turn.interactive.id if turn.interactive is not None else None,
            message_type=turn.message_type,
            message_id=turn.message_id,
            contact_name=turn.contact_name,
            quoted_booking=quoted_booking,
        )

    @property
    def has_words(self) -> bool:
        """Letters of the customer's own ("[image]"-style placeholders are not)."""
        return bool(_LETTER.search(self.text)) and not self.text.startswith("[")

    @property
    def number(self) -> int | None:
        """The option number the customer answered with ("2", "2.", "2)")."""
        match = _NUMBER.match(self.text)
        return int(match[1]) if match else None

    @property
    def is_media_only(self) -> bool:
        return self.message_type in MEDIA_TYPES and not self.has_words
