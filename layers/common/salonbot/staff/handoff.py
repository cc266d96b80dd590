"""The staff side of a hand-off: a staff message (a console reply, or one sent from the
WhatsApp Business app) starts the hand-off or extends it, so the bot stays quiet while
the salon's people answer; "return to bot" ends it. The customer side (what ends a
hand-off from the customer's words, the acknowledgements) lives with the conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salonbot.conversation.store import ACTIVE, HANDOFF

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.db.connection import Connection


def staff_answering(
    conn: Connection,
    conversation_id: str,
    *,
    until: dt.datetime,
    replied_at: dt.datetime | None = None,
) -> dt.datetime:
    """Hand the conversation to staff until `until`, or keep a longer hand-off as it is;
    the hand-off's end. `replied_at` (default: now) is remembered as the staff's latest
    reply, which keeps the customer's acknowledgements quiet while staff answer
    (`salonbot.conversation.handoff.notice_due`); a new hand-off starts without notices."""
    row = conn.execute(
        f"""
        UPDATE ai_conversations
           SET status = '{HANDOFF}',
               handoff_notice_at = CASE
                   WHEN status = '{HANDOFF}'
                        AND (handoff_until IS NULL OR handoff_until > coalesce(%(at)s, now()))
                   THEN handoff_notice_at END,
               handoff_until = CASE
                   WHEN status = '{HANDOFF}' AND handoff_until IS NOT NULL
                        AND handoff_until > %(until)s THEN handoff_until
                   ELSE %(until)s END,
               staff_replied_at = coalesce(%(at)s, now()),
               updated_at = now()
         WHERE id = %(id)s
        RETURNING handoff_until
        """,
        {"until": until, "id": conversation_id, "at": replied_at},
    ).fetchone()
    return row["handoff_until"] if row else until


def return_to_bot(conn: Connection, conversation_id: str, *, now: dt.datetime) -> None:
    """Staff are done: the bot answers the customer's next message, and the conversation
    leaves the inbox's waiting list (also for a salon with AI off)."""
    conn.execute(
        f"""
        UPDATE ai_conversations
           SET status = '{ACTIVE}', handoff_until = NULL, staff_unnotified = 0,
               handoff_notice_at = NULL, staff_released_at = %(now)s, updated_at = now()
         WHERE id = %(id)s
        """,
        {"now": now, "id": conversation_id},
    )
