"""The processing ledger (`inbound_messages`): one row per customer message taken on,
written in the transaction that holds the message's effects, and the send state of its
reply, so that a redelivery resumes instead of repeating.

`reply` is a JSON list, one item per outgoing message: `{"payload": <Cloud API body>,
"state": "pending" | "sending" | "sent" | "failed" | "unknown", "id": <wamid>}`.
`sending` is written (and committed) before the HTTP request; finding it on a
redelivery means a send was interrupted with an unknown outcome, and that message is not
sent again (at most one reply). `reply_status` sums it up: `pending` while something is
left to send, `sent`, `failed` (refused or unknown outcome, with `reply_error`), or
`none` (nothing to send: staff answer)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.clean_text import clean_strings

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from decimal import Decimal

    from salonbot.db.connection import Connection

PENDING, SENDING, SENT, FAILED, UNKNOWN = "pending", "sending", "sent", "failed", "unknown"


@dataclass(frozen=True)
class MessageCost:
    category: str
    market: str
    price_usd: Decimal


@dataclass(frozen=True)
class PendingReply:
    message_id: str
    phone_number: str
    status: str
    items: list[dict[str, Any]]


def claim(
    conn: Connection,
    *,
    message_id: str,
    salon_id: uuid.UUID,
    phone: str,
    received_at: dt.datetime,
) -> bool:
    """Record the message as taken on; False if it was already (a redelivery)."""
    row = conn.execute(
        """
        INSERT INTO inbound_messages (message_id, salon_id, phone_number, received_at)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING 1 AS claimed
        """,
        (message_id, salon_id, phone, received_at),
    ).fetchone()
    return row is not None


def claimed(conn: Connection, message_id: str) -> bool:
    """True when the message has been taken on (processed, or being processed now)."""
    row = conn.execute(
        "SELECT 1 AS found FROM inbound_messages WHERE message_id = %s", (message_id,)
    ).fetchone()
    return row is not None


def save_reply(
    conn: Connection,
    message_id: str,
    conversation_id: str | None,
    payloads: list[dict[str, Any]],
    *,
    phone: str,
) -> PendingReply:
    """The reply to send after commit (or none: `reply_status = 'none'`), returned as
    `pending_reply` would read it back once committed. Its texts are cleaned: jsonb
    cannot hold NUL nor UTF-8 a lone surrogate, and a reply that cannot be saved fails
    its message on every delivery."""
    items = [{"payload": clean_strings(p), "state": PENDING} for p in payloads]
    conn.execute(
        """
        UPDATE inbound_messages
           SET conversation_id = %s, reply = %s::jsonb,
               reply_status = CASE WHEN %s THEN 'pending' ELSE 'none' END
         WHERE message_id = %s
        """,
        (conversation_id, json.dumps(items, ensure_ascii=False), bool(items), message_id),
    )
    return PendingReply(message_id, phone, PENDING if items else "none", items)


def pending_reply(conn: Connection, message_id: str) -> PendingReply | None:
    row = conn.execute(
        "SELECT message_id, phone_number, reply_status, reply FROM inbound_messages "
        "WHERE message_id = %s",
        (message_id,),
    ).fetchone()
    if row is None:
        return None
    return PendingReply(
        row["message_id"], row["phone_number"], row["reply_status"], list(row["reply"] or [])
    )


def mark_item(
    conn: Connection,
    message_id: str,
    index: int,
    state: str,
    *,
    expect: str,
    wamid: str | None = None,
    error: str | None = None,
    overall: str | None = None,
    cost: MessageCost | None = None,
) -> bool:
    """Move reply item `index` from state `expect` to `state` (compare-and-set: a second
    processor of the same message cannot also take it). `overall` sets `reply_status`.
    `cost`: the sent message's price, recorded in `message_costs` in the same statement."""
    row = conn.execute(
        """
        WITH moved AS (
        UPDATE inbound_messages
           SET reply = jsonb_set(
                   jsonb_set(reply, ARRAY[%(i)s::text, 'state'], to_jsonb(%(state)s::text)),
                   ARRAY[%(i)s::text, 'id'], coalesce(to_jsonb(%(wamid)s::text), 'null'::jsonb)),
               reply_attempts = reply_attempts + CASE WHEN %(state)s = 'sending' THEN 1 ELSE 0 END,
               reply_error = coalesce(%(error)s, reply_error),
               reply_message_id = coalesce(%(wamid)s, reply_message_id),
               reply_status = coalesce(%(overall)s, reply_status),
               sent_at = CASE WHEN %(overall)s = 'sent' THEN now() ELSE sent_at END
         WHERE message_id = %(message)s AND reply -> %(i)s ->> 'state' = %(expect)s
        RETURNING salon_id
        ), priced AS (
            INSERT INTO message_costs (wamid, salon_id, category, market, price_usd, priced_by)
            SELECT %(wamid)s, salon_id, %(category)s, %(market)s, %(price)s, 'rate_table'
              FROM moved
             WHERE %(category)s::text IS NOT NULL AND nullif(%(wamid)s::text, '') IS NOT NULL
            ON CONFLICT (wamid) DO NOTHING
        )
        SELECT 1 AS moved FROM moved
        """,
        {
            "category": cost.category if cost else None,
            "market": cost.market if cost else None,
            "price": cost.price_usd if cost else None,
            "i": index,
            "state": state,
            "wamid": wamid,
            "error": error,
            "overall": overall,
            "message": message_id,
            "expect": expect,
        },
    ).fetchone()
    return row is not None


def record_status(
    conn: Connection,
    *,
    message_id: str,
    status: str,
    recipient: str | None,
    error_code: int | None,
    error_title: str | None,
    occurred_at: dt.datetime,
    recipient_user_id: str | None = None,
) -> bool:
    """A delivery status of one of our messages; False when it was recorded before."""
    row = conn.execute(
        """
        INSERT INTO message_statuses
               (message_id, status, recipient, error_code, error_title, occurred_at,
                recipient_user_id)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (message_id, status) DO NOTHING
        RETURNING 1 AS recorded
        """,
        (message_id, status, recipient, error_code, error_title, occurred_at, recipient_user_id),
    ).fetchone()
    return row is not None


def sent_text(conn: Connection, salon_id: uuid.UUID, wamid: str) -> str | None:
    """The text of the reply of ours WhatsApp gave `wamid` (what a customer quotes when
    they reply to it), or None when no reply of this salon has that id."""
    row = conn.execute(
        """
        SELECT item -> 'payload' AS payload
          FROM inbound_messages, jsonb_array_elements(reply) AS item
         WHERE salon_id = %s AND reply @> %s::jsonb AND item ->> 'id' = %s
         LIMIT 1
        """,
        (salon_id, json.dumps([{"id": wamid}]), wamid),
    ).fetchone()
    if row is None or not isinstance(row["payload"], dict):
        return None
    payload = row["payload"]
    text = (payload.get("text") or {}).get("body")
    if not text:
        text = ((payload.get("interactive") or {}).get("body") or {}).get("text")
    return str(text) if text else None


def reply_booking(conn: Connection, salon_id: uuid.UUID, wamid: str) -> str | None:
    """The booking code recorded with the reply of ours WhatsApp gave `wamid` (the turn
    that booked, moved or cancelled), or None."""
    row = conn.execute(
        """
        SELECT a.booking_code
          FROM inbound_messages i
          JOIN ai_messages u ON u.external_id = i.message_id AND u.role = 'user'
          CROSS JOIN LATERAL (
                SELECT booking_code FROM ai_messages a
                 WHERE a.conversation_id = u.conversation_id AND a.id > u.id
                   AND a.role = 'assistant'
                 ORDER BY a.id LIMIT 1) a
         WHERE i.salon_id = %s AND i.reply @> %s::jsonb
         LIMIT 1
        """,
        (salon_id, json.dumps([{"id": wamid}])),
    ).fetchone()
    return str(row["booking_code"]) if row is not None and row["booking_code"] else None
