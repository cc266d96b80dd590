"""What waits for the salon's people: the inbox and a conversation's thread.

A conversation is waiting while it is handed off (the assistant passed it on, or staff
are answering); for a salon with AI off, while its latest message is the customer's and
came after staff last marked it done (`staff_released_at`); and while a message of the
customer kept unanswered (`kept_messages`) or a feedback rating of 2 or less came after
that. Newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.errors import NotFound
from salonbot.outbound.buttons import LOW_RATING

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from collections.abc import Sequence

    from salonbot.db.connection import Connection

# Later statuses win: a read message was delivered and sent before.
_STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}
INBOX_LIMIT = 200


class UnknownConversation(NotFound):
    """No conversation with this id (or not one of the caller's salons)."""


@dataclass(frozen=True)
class InboxItem:
    id: str
    salon_id: uuid.UUID
    phone: str
    customer_name: str | None
    status: str
    handoff_until: dt.datetime | None
    waiting: bool
    last_message: str
    last_message_role: str | None
    last_message_at: dt.datetime


@dataclass(frozen=True)
class ThreadMessage:
    id: int
    role: str  # user | assistant | staff
    text: str
    at: dt.datetime
    staff_user: str | None
    delivery: str | None  # sent | delivered | read | failed, for messages we sent


# Besides hand-offs and AI-off salons, a person is needed for the customer's messages kept
# unanswered (`kept_messages`, a salon's; too old when they arrived) and for a low feedback
# rating (`bookings.rating <= LOW_RATING`), each until staff mark the conversation done
# after it (`staff_released_at`). `attention` gathers both per conversation id (the id is
# `conv_<salon>_<phone digits>`), from the salon's rows only.
#
# The candidates first (handed off, every conversation of a salon with AI off, those in
# `attention`; all of them for `status=all`), newest by their last activity, then each
# one's last message (its own or a kept one): the lateral look-up runs for the page's rows,
# not for every conversation of the salon.
_INBOX_SQL = f"""
WITH attention AS (
    SELECT id, max(kept_at) AS kept_at, max(low_rated_at) AS low_rated_at FROM (
        SELECT 'conv_' || k.salon_id::text || '_' || ltrim(k.phone_number, '+') AS id,
               k.received_at AS kept_at, NULL::timestamptz AS low_rated_at
          FROM kept_messages k
         WHERE k.salon_id = %(salon)s
        UNION ALL
        SELECT 'conv_' || b.salon_id::text || '_' || ltrim(cl.phone, '+'),
               NULL, coalesce(b.rated_at, b.updated_at)
          FROM bookings b
          JOIN clients cl ON cl.id = b.client_id
         WHERE b.salon_id = %(salon)s AND b.rating <= {int(LOW_RATING)}
    ) AS a GROUP BY id
), picked AS (
    SELECT c.id, c.salon_id, c.phone_number, c.status, c.handoff_until,
           greatest(c.last_message_at, a.kept_at, a.low_rated_at) AS last_message_at,
           c.client_id, c.staff_released_at, s.ai_enabled, a.kept_at, a.low_rated_at
      FROM ai_conversations c
      JOIN salons s ON s.id = c.salon_id
      LEFT JOIN attention a ON a.id = c.id
     WHERE c.salon_id = %(salon)s
       AND (%(all)s OR c.status = 'handoff' OR NOT s.ai_enabled OR a.id IS NOT NULL)
       AND (%(id)s::text IS NULL OR c.id = %(id)s)
     ORDER BY greatest(c.last_message_at, a.kept_at, a.low_rated_at) DESC, c.id
     LIMIT %(limit)s
)
SELECT c.id, c.salon_id, c.phone_number, c.status, c.handoff_until, c.last_message_at,
       cl.name AS customer_name, lm.role AS last_role, lm.content AS last_content,
       lm.created_at AS last_at,
       (c.status = 'handoff' AND (c.handoff_until IS NULL OR c.handoff_until > %(now)s))
       OR (NOT c.ai_enabled AND lm.role = 'user'
           AND (c.staff_released_at IS NULL OR lm.created_at > c.staff_released_at))
       OR (c.kept_at IS NOT NULL
           AND (c.staff_released_at IS NULL OR c.kept_at > c.staff_released_at))
       OR (c.low_rated_at IS NOT NULL
           AND (c.staff_released_at IS NULL OR c.low_rated_at > c.staff_released_at))
       AS waiting
  FROM picked c
  LEFT JOIN clients cl ON cl.id = c.client_id
  LEFT JOIN LATERAL (
        SELECT role, content, created_at FROM (
            SELECT role, content, created_at, id AS n FROM ai_messages m
             WHERE m.conversation_id = c.id AND m.role IN ('user', 'assistant', 'staff')
             ORDER BY m.created_at DESC, m.id DESC
             LIMIT 1
        ) AS own
        UNION ALL
        SELECT 'user', content, received_at FROM (
            SELECT k.content, k.received_at FROM kept_messages k
             WHERE c.kept_at IS NOT NULL AND k.salon_id = c.salon_id
               AND k.received_at = c.kept_at
               AND ltrim(k.phone_number, '+') = ltrim(c.phone_number, '+')
             LIMIT 1
        ) AS kept
        ORDER BY created_at DESC
        LIMIT 1
       ) AS lm ON true
"""


def _params(salon_id: uuid.UUID, now: dt.datetime, **extra: Any) -> dict[str, Any]:
    return {
        "salon": salon_id,
        "now": now,
        "all": False,
        "id": None,
        "limit": None,
        **extra,
    }


def _item(row: dict[str, Any]) -> InboxItem:
    return InboxItem(
        id=row["id"],
        salon_id=row["salon_id"],
        phone=row["phone_number"],
        customer_name=row["customer_name"],
        status=row["status"],
        handoff_until=row["handoff_until"],
        waiting=bool(row["waiting"]),
        last_message=row["last_content"] or "",
        last_message_role=row["last_role"],
        last_message_at=row["last_at"] or row["last_message_at"],
    )


def inbox(
    conn: Connection,
    salon_id: uuid.UUID,
    *,
    waiting_only: bool,
    now: dt.datetime,
    limit: int = INBOX_LIMIT,
) -> list[InboxItem]:
    sql = f"SELECT * FROM ({_INBOX_SQL}) AS i"
    if waiting_only:
        sql += " WHERE i.waiting"
    sql += " ORDER BY coalesce(i.last_at, i.last_message_at) DESC, i.id"
    params = _params(salon_id, now, all=not waiting_only, limit=limit)
    rows = conn.execute(sql, params).fetchall()
    return [_item(row) for row in rows]


def waiting_count(
    conn: Connection,
    salon_id: uuid.UUID,
    *,
    now: dt.datetime,
    listed: Sequence[InboxItem] | None = None,
) -> int:
    """How many conversations wait; `listed`, the waiting page just read, answers it
    without a second query when it was not cut by the page size."""
    if listed is not None and len(listed) < INBOX_LIMIT:
        return len(listed)
    row = conn.execute(
        f"SELECT count(*) AS n FROM ({_INBOX_SQL}) AS i WHERE i.waiting",
        _params(salon_id, now),
    ).fetchone()
    return int(row["n"]) if row else 0


def conversation_salon(conn: Connection, conversation_id: str) -> uuid.UUID:
    """The salon a conversation belongs to; `UnknownConversation` if there is none."""
    row = conn.execute(
        "SELECT salon_id FROM ai_conversations WHERE id = %s", (conversation_id,)
    ).fetchone()
    if row is None:
        raise UnknownConversation(f"no conversation {conversation_id}")
    salon: uuid.UUID = row["salon_id"]
    return salon


def conversation_item(
    conn: Connection, salon_id: uuid.UUID, conversation_id: str, *, now: dt.datetime
) -> InboxItem:
    row = conn.execute(
        f"SELECT * FROM ({_INBOX_SQL}) AS i",
        _params(salon_id, now, all=True, id=conversation_id),
    ).fetchone()
    if row is None:
        raise UnknownConversation(f"no conversation {conversation_id}")
    return _item(row)


def thread(conn: Connection, conversation_id: str, *, limit: int = 500) -> list[ThreadMessage]:
    """The customer's, the bot's and staff's messages, oldest first (the last `limit`),
    with the delivery status WhatsApp reported for each message we sent."""
    rows = conn.execute(
        """
        SELECT * FROM (
            SELECT m.id, m.role, m.content, m.created_at, m.staff_user,
                   coalesce(m.external_id, im.reply_message_id) AS sent_id
              FROM ai_messages m
              LEFT JOIN LATERAL (
                    SELECT i.reply_message_id FROM inbound_messages i
                     WHERE m.role = 'assistant' AND i.conversation_id = m.conversation_id
                       AND i.processed_at <= m.created_at
                     ORDER BY i.processed_at DESC LIMIT 1
                   ) AS im ON m.role = 'assistant'
             WHERE m.conversation_id = %s AND m.role IN ('user', 'assistant', 'staff')
             ORDER BY m.created_at DESC, m.id DESC
             LIMIT %s
        ) AS t ORDER BY t.created_at, t.id
        """,
        (conversation_id, limit),
    ).fetchall()
    sent_ids = [r["sent_id"] for r in rows if r["role"] != "user" and r["sent_id"]]
    statuses: dict[str, str] = {}
    if sent_ids:
        for status in conn.execute(
            "SELECT message_id, status FROM message_statuses WHERE message_id = ANY(%s)",
            (sent_ids,),
        ).fetchall():
            known = statuses.get(status["message_id"])
            if known is None or _STATUS_RANK.get(status["status"], 0) > _STATUS_RANK.get(known, 0):
                statuses[status["message_id"]] = status["status"]
    return [
        ThreadMessage(
            id=r["id"],
            role=r["role"],
            text=r["content"],
            at=r["created_at"],
            staff_user=r["staff_user"],
            delivery=(
                statuses.get(r["sent_id"], "sent") if r["role"] != "user" and r["sent_id"] else None
            ),
        )
        for r in rows
    ]
