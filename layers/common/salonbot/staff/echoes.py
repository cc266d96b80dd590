"""Coexistence: a message the salon's staff send from the WhatsApp Business app on the
salon's number arrives as an `smb_message_echoes` webhook. It is stored in the
customer's conversation as a `staff` message (by `whatsapp_business_app`), and, exactly as
a console reply does, hands the conversation to staff: the bot stays quiet there for
`STAFF_PAUSE_HOURS` (default 12) from when it was sent (`handoff.staff_answering`, which
never shortens a longer hand-off). Recorded once per WhatsApp message id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salonbot.conversation.store import NewMessage, append_messages, open_conversation
from salonbot.staff.handoff import staff_answering

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection
    from salonbot.whatsapp.events import StaffEcho

BUSINESS_APP = "whatsapp_business_app"


def record_echo(conn: Connection, salon: Salon, echo: StaffEcho, *, pause: dt.timedelta) -> bool:
    """Store the echo and pause the bot; False when it was recorded before."""
    with conn.transaction():
        conversation = open_conversation(conn, salon.id, echo.to.lstrip("+"))
        # The conversation's row is locked by the upsert: a redelivered echo waits here.
        seen = conn.execute(
            "SELECT 1 FROM ai_messages WHERE external_id = %s", (echo.message_id,)
        ).fetchone()
        if seen is not None:
            return False
        (message_id,) = append_messages(
            conn,
            conversation,
            [
                NewMessage(
                    role="staff",
                    content=echo.text or f"[{echo.type}]",
                    message_type=echo.type,
                    external_id=echo.message_id,
                )
            ],
        )
        conn.execute(
            "UPDATE ai_messages SET staff_user = %s, created_at = %s WHERE id = %s",
            (BUSINESS_APP, echo.timestamp, message_id),
        )
        staff_answering(
            conn, conversation.id, until=echo.timestamp + pause, replied_at=echo.timestamp
        )
    return True
