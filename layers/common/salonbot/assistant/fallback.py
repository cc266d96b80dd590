"""The reply when the model cannot answer (no key, over budget, outage) and no richer
engine is plugged in: a polite fixed text in the customer's language, at no cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salonbot.assistant.base import TurnResult
from salonbot.assistant.language import detect_language
from salonbot.texts import phrases
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    from salonbot.assistant.base import TurnInput
    from salonbot.db.connection import Connection


class FixedReply:
    """`Assistant` that always answers with the fixed text (the catalogue's
    `fixed_reply`: the deployment guide's fallback text leads the Russian one)."""

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        language = detect_language(turn.text, turn.default_language)
        body = phrases(language, turn.salon.language)["fixed_reply"]
        return TurnResult(messages=[TextMessage(body=body)], engine="fixed", language=language)
