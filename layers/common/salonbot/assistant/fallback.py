"""The reply when the model cannot answer (no key, over budget, outage) and no richer
engine is plugged in: a polite fixed text in the customer's language, at no cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salonbot.assistant.base import TurnResult
from salonbot.assistant.language import detect_language
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    from salonbot.assistant.base import TurnInput
    from salonbot.db.connection import Connection

# The deployment guide's fallback text leads the Russian reply.
FIXED_REPLIES = {
    "ru": "Извините, произошла ошибка... Пожалуйста, напишите нам чуть позже "
    "или позвоните в салон.",
    "en": "Sorry, something went wrong... Please write to us a little later or call the salon.",
}


def fixed_reply(language: str) -> str:
    return FIXED_REPLIES.get(language, FIXED_REPLIES["ru"])


class FixedReply:
    """`Assistant` that always answers with the fixed text."""

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        language = detect_language(turn.text, turn.default_language)
        return TurnResult(
            messages=[TextMessage(body=fixed_reply(language))], engine="fixed", language=language
        )
