"""The hand-off: while the salon's staff have a conversation, the assistant does not
answer it, and the customer is still never met with silence. Every change of a
conversation's hand-off goes through the functions here (the assistant's hand-off, a staff
reply, a staff release, the customer's way back to the bot).

- `start`: the assistant handed the customer to staff (a clear request for a person);
- `extend`: a staff reply (console or the WhatsApp Business app) starts or extends the
  hand-off for `HANDOFF_MINUTES` from now and is remembered as the staff's latest reply;
- `end`: the conversation goes back to the assistant (a staff release, or the customer's
  "меню"/"бот"/"menu"); the unnotified count starts over;
- `notice_due`: what a customer's message while handed off is told: the first one after
  the hand-off began `WAIT` ("the staff will answer you here", with the way back), later
  ones `ACK` at most once every `HANDOFF_ACK_MINUTES`, and nothing while the staff
  themselves answered within that time (they are talking with the customer);
- `record_notice`: the customer was told (in the message's transaction).

A hand-off also ends by itself at `handoff_until` (`store.open_conversation`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from salonbot.conversation.store import ACTIVE, HANDOFF

if TYPE_CHECKING:
    from salonbot.conversation.store import Conversation
    from salonbot.db.connection import Connection

Notice = Literal["wait", "ack"]
WAIT: Notice = "wait"
ACK: Notice = "ack"


def start(conn: Connection, conversation: str, *, until: dt.datetime) -> None:
    """Staff take over until `until` (or until released); a new hand-off, so the
    customer's next message is told the staff will answer."""
    conn.execute(
        f"UPDATE ai_conversations SET status = '{HANDOFF}', handoff_until = %s, "
        "handoff_notice_at = NULL, updated_at = now() WHERE id = %s",
        (until, conversation),
    )


def extend(conn: Connection, conversation: str, *, now: dt.datetime, minutes: int) -> None:
    """A staff reply: the hand-off lasts at least `minutes` from `now` (an ongoing one
    keeps its notices; a new one starts without)."""
    until = now + dt.timedelta(minutes=minutes)
    conn.execute(
        f"""
        UPDATE ai_conversations
           SET handoff_notice_at = CASE WHEN status = '{HANDOFF}' AND handoff_until > %(now)s
                                        THEN handoff_notice_at END,
               handoff_until = CASE WHEN status = '{HANDOFF}' AND handoff_until > %(now)s
                                    THEN greatest(handoff_until, %(until)s) ELSE %(until)s END,
               status = '{HANDOFF}', staff_replied_at = %(now)s, updated_at = now()
         WHERE id = %(id)s
        """,
        {"id": conversation, "now": now, "until": until},
    )


def end(conn: Connection, conversation: str) -> bool:
    """Give the conversation back to the assistant; False if it was not handed off.
    Staff have read what waited for them: the unnotified count starts over."""
    row = conn.execute(
        f"UPDATE ai_conversations SET status = '{ACTIVE}', handoff_until = NULL, "
        "handoff_notice_at = NULL, staff_unnotified = 0, "
        f"updated_at = now() WHERE id = %s AND status = '{HANDOFF}' RETURNING id",
        (conversation,),
    ).fetchone()
    return row is not None


def notice_due(
    conversation: Conversation, now: dt.datetime, interval: dt.timedelta
) -> Notice | None:
    """What a customer's message while handed off is told (None: nothing, the staff
    are answering or the customer was told a moment ago)."""
    told = conversation.handoff_notice_at
    if told is None or told > now:  # a clock set back does not hold the notice
        return WAIT
    replied = conversation.staff_replied_at
    latest = max(told, replied) if replied is not None and replied <= now else told
    return ACK if now - latest >= interval else None


def record_notice(conn: Connection, conversation: str, *, at: dt.datetime) -> None:
    conn.execute(
        "UPDATE ai_conversations SET handoff_notice_at = %s WHERE id = %s", (at, conversation)
    )
