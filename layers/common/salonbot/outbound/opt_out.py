"""Opting out of a salon's reminders and offers, and back in.

"STOP" (and its words in `lexicon`) wins in every state of the conversation, a hand-off
to staff included: the turn asks `respond` before anything else. The opt-out is stored per
salon (`opt_outs`) and confirmed once; writing it again while opted out gets a short
"you are already unsubscribed", never silence. "START" removes it. WhatsApp's own signal
(error 131050: the customer stopped the business's marketing messages) is stored with the
`marketing` scope: marketing templates stop, reminders of the customer's own visits do
not. Replies to the customer's messages, booking confirmations included, always go out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salonbot import texts
from salonbot.outbound.lexicon import is_opt_in, is_opt_out
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    import uuid

    from salonbot.assistant.base import TurnInput, TurnResult
    from salonbot.db.connection import Connection

ALL, MARKETING = "all", "marketing"


def opt_out(
    conn: Connection, salon_id: uuid.UUID, phone: str, *, scope: str = ALL, source: str
) -> bool:
    """Record the opt-out; True when it is new (or widens a marketing-only one)."""
    row = conn.execute(
        """
        INSERT INTO opt_outs AS o (salon_id, phone, scope, source) VALUES (%s, %s, %s, %s)
        ON CONFLICT (salon_id, phone) DO UPDATE SET scope = 'all', source = EXCLUDED.source,
               opted_out_at = now()
         WHERE o.scope = 'marketing' AND EXCLUDED.scope = 'all'
        RETURNING 1
        """,
        (salon_id, phone, scope, source),
    ).fetchone()
    return row is not None


def opt_in(conn: Connection, salon_id: uuid.UUID, phone: str) -> bool:
    row = conn.execute(
        "DELETE FROM opt_outs WHERE salon_id = %s AND phone = %s RETURNING 1", (salon_id, phone)
    ).fetchone()
    return row is not None


def respond(conn: Connection, turn: TurnInput) -> TurnResult | None:
    """The answer to an opt-out or opt-in message, else None (the turn goes on)."""
    from salonbot.assistant.base import TurnResult

    said = turn.message.text if turn.message.in_own_words else None
    if is_opt_out(said):
        key = (
            "opted_out"
            if opt_out(conn, turn.salon.id, turn.phone, source="customer")
            else "already_opted_out"
        )
    elif is_opt_in(said):
        key = "opted_in" if opt_in(conn, turn.salon.id, turn.phone) else "not_opted_out"
    else:
        return None
    language = turn.conversation_language or turn.salon.language
    t = texts.phrases(language, turn.salon.language)
    return TurnResult(
        messages=[TextMessage(body=t[key].format(salon=turn.salon.name))],
        engine="guided",
        language=t.language,
        tool_calls=[{"name": key, "arguments": {}}],
    )
