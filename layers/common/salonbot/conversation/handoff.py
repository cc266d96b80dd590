"""The customer's side of a hand-off: while the salon's staff have a conversation, the
assistant does not answer it, and the customer is still never met with silence. The staff
side (a staff reply starts or extends the hand-off and is remembered as the staff's latest
reply; "return to bot") is `salonbot.staff.handoff`.

- `start`: the assistant handed the customer to staff (a clear request for a person);
- `end`: the customer's "меню"/"бот"/"menu" gives the conversation back to the assistant;
  the unnotified count starts over;
- `notice_due`: what a customer's message while handed off is told: nothing while the
  staff replied within `HANDOFF_ACK_MINUTES` (they are talking with the customer); else
  the first message of the hand-off `WAIT` ("the staff will answer you here", with the way
  back), later ones `ACK` at most once every `HANDOFF_ACK_MINUTES`;
- `record_notice`: the customer was told (in the message's transaction).

A hand-off also ends by itself at `handoff_until` (`store.open_conversation`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from salonbot.conversation.store import ACTIVE, HANDOFF

if TYPE_CHECKING:
    import datetime as dt

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
    replied = conversation.staff_replied_at
    if replied is not None and replied <= now and now - replied < interval:
        return None  # the staff are answering
    told = conversation.handoff_notice_at
    if told is None or told > now:  # a clock set back does not hold the notice
        return WAIT
    latest = max(told, replied) if replied is not None and replied <= now else told
    return ACK if now - latest >= interval else None


def record_notice(conn: Connection, conversation: str, *, at: dt.datetime) -> None:
    conn.execute(
        "UPDATE ai_conversations SET handoff_notice_at = %s WHERE id = %s", (at, conversation)
    )
