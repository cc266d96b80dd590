"""Conversations (`ai_conversations`) and their messages (`ai_messages`).

One conversation per salon and customer, id `conv_<salon id>_<phone digits>` as the
product already uses (the phone as WhatsApp's `from`: digits, no '+'), or
`conv_<salon id>_<user id>` for a customer WhatsApp names only by their business-scoped
user id. Every function
takes the caller's connection and runs inside the caller's transaction, so a message's
records commit or roll back with its effects.

One customer message is one `user` row; one reply is one `assistant` row carrying the
turn's tokens, cost, model, response time, booking code and the tool calls it made (as
`tool_calls`), so counting rows counts messages and summing rows sums spend; and what the
review reads: the experiment arm, whether it handed off, and the engine's notes."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salonbot.clean_text import clean_strings

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from salonbot.db.connection import Connection

ACTIVE, HANDOFF = "active", "handoff"
# Rough tokens per UTF-8 byte for the history budget: ~4 bytes a token in English, and
# Cyrillic letters are 2 bytes each at ~3 letters a token. Plus a per-message overhead.
BYTES_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def conversation_id(salon_id: uuid.UUID | str, phone: str) -> str:
    return f"conv_{salon_id}_{phone.lstrip('+')}"


def estimate_tokens(text: str) -> int:
    return TOKENS_PER_MESSAGE + (len(text.encode()) + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


@dataclass(frozen=True)
class Conversation:
    id: str
    salon_id: uuid.UUID
    phone_number: str
    status: str
    handoff_until: dt.datetime | None
    language: str | None
    state: dict[str, Any]
    message_count: int
    booking_count: int
    created: bool  # this call started the conversation
    # The last staff notification, and the messages for staff stored since it.
    staff_notified_at: dt.datetime | None = None
    staff_unnotified: int = 0
    # When the customer last wrote: WhatsApp's 24-hour window for free-form messages.
    last_inbound_at: dt.datetime | None = None
    # The hand-off's notices to the customer and the staff's latest reply (`handoff`).
    handoff_notice_at: dt.datetime | None = None
    staff_replied_at: dt.datetime | None = None
    # The model experiment's arm given to this conversation (`salonbot.experiment`).
    experiment_arm: str | None = None
    has_held: bool = False  # a burst's messages wait for this turn (`take_held`)

    def handed_off(self, now: dt.datetime) -> bool:
        """With staff: the assistant stays quiet until released or the hand-off expires."""
        return self.status == HANDOFF and (self.handoff_until is None or self.handoff_until > now)


@dataclass(frozen=True)
class HistoryEntry:
    role: str  # user | assistant | staff
    content: str


@dataclass
class NewMessage:
    role: str
    content: str
    message_type: str = "text"
    tool_calls: list[dict[str, Any]] | None = None
    external_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)
    response_time_ms: int | None = None
    model: str | None = None
    booking_code: str | None = None
    experiment_arm: str | None = None
    handoff: bool = False  # the reply passed the conversation to staff
    notes: list[str] | None = None  # the router's and the engine's notes on the reply
    reply_to_message_id: str | None = None  # the wamid the customer's message quotes
    held: bool = False  # a burst's message, answered by the burst's last turn
    media_id: str | None = None  # the Cloud API's id of the customer's media
    media_mime_type: str | None = None
    caption: str | None = None  # the media's caption


_CONVERSATION_COLUMNS = (
    "id, salon_id, phone_number, status, handoff_until, language, state, "
    "message_count, booking_count, staff_notified_at, staff_unnotified, experiment_arm, "
    "handoff_notice_at, staff_replied_at, last_inbound_at"
)


def _from_row(row: dict[str, Any]) -> Conversation:
    return Conversation(
        id=row["id"],
        salon_id=row["salon_id"],
        phone_number=row["phone_number"],
        status=row["status"],
        handoff_until=row["handoff_until"],
        language=row["language"],
        state=dict(row["state"] or {}),
        message_count=row["message_count"],
        booking_count=row["booking_count"],
        created=bool(row.get("created", False)),
        staff_notified_at=row.get("staff_notified_at"),
        staff_unnotified=int(row.get("staff_unnotified") or 0),
        last_inbound_at=row.get("last_inbound_at"),
        handoff_notice_at=row.get("handoff_notice_at"),
        staff_replied_at=row.get("staff_replied_at"),
        experiment_arm=row.get("experiment_arm"),
        has_held=bool(row.get("has_held", False)),
    )


def open_conversation(
    conn: Connection,
    salon_id: uuid.UUID,
    phone: str,
    *,
    language: str | None = None,
    now: dt.datetime | None = None,
    inbound_at: dt.datetime | None = None,
) -> Conversation:
    """The customer's conversation with the salon, created on first contact. One round
    trip; a conversation whose hand-off expired is active again. `inbound_at`: when the
    customer sent the message being handled, which (re)opens WhatsApp's 24-hour window;
    an older message redelivered late never moves it back."""
    row = conn.execute(
        f"""
        INSERT INTO ai_conversations AS c (id, salon_id, phone_number, language,
                                           last_inbound_at)
        VALUES (%(id)s, %(salon)s, %(phone)s, %(language)s, %(inbound)s)
        ON CONFLICT (id) DO UPDATE
           SET language = coalesce(EXCLUDED.language, c.language),
               last_inbound_at = greatest(c.last_inbound_at, EXCLUDED.last_inbound_at),
               status = CASE WHEN c.status = '{HANDOFF}' AND c.handoff_until <= %(now)s
                             THEN '{ACTIVE}' ELSE c.status END,
               handoff_until = CASE WHEN c.status = '{HANDOFF}' AND c.handoff_until <= %(now)s
                                    THEN NULL ELSE c.handoff_until END
        RETURNING {_CONVERSATION_COLUMNS}, (xmax = 0) AS created,
                  EXISTS (SELECT 1 FROM ai_messages m WHERE m.conversation_id = c.id AND m.held)
                  AS has_held
        """,
        {
            "id": conversation_id(salon_id, phone),
            "salon": salon_id,
            "phone": phone,
            "language": language,
            "now": now or dt.datetime.now(dt.UTC),
            "inbound": inbound_at,
        },
    ).fetchone()
    assert row is not None
    return _from_row(row)


def append_messages(
    conn: Connection, conversation: Conversation, messages: Sequence[NewMessage]
) -> list[int]:
    """Store messages in order and update the conversation's counters: one round trip."""
    if not messages:
        return []
    rows = [
        {
            "role": m.role,
            "content": m.content,
            "message_type": m.message_type,
            "tool_calls": m.tool_calls,
            "external_id": m.external_id,
            "prompt_tokens": m.prompt_tokens,
            "completion_tokens": m.completion_tokens,
            "cached_tokens": m.cached_tokens,
            "cost": str(m.cost),
            "response_time_ms": m.response_time_ms,
            "model": m.model,
            "booking_code": m.booking_code,
            "experiment_arm": m.experiment_arm,
            "handoff": m.handoff,
            "notes": m.notes or None,
            "reply_to_message_id": m.reply_to_message_id,
            "held": m.held,
            "media_id": m.media_id,
            "media_mime_type": m.media_mime_type,
            "caption": m.caption,
        }
        for m in messages
    ]
    result = conn.execute(
        """
        WITH new AS (
            INSERT INTO ai_messages (
                conversation_id, salon_id, role, content, message_type, tool_calls,
                external_id, prompt_tokens, completion_tokens, cached_tokens, cost,
                response_time_ms, model, booking_code, reply_to_message_id, held,
                experiment_arm, handoff, notes, media_id, media_mime_type, caption)
            SELECT %(conversation)s, %(salon)s, r.role, r.content, r.message_type,
                   r.tool_calls, r.external_id, r.prompt_tokens, r.completion_tokens,
                   r.cached_tokens, r.cost, r.response_time_ms, r.model, r.booking_code,
                   r.reply_to_message_id, coalesce(r.held, false), r.experiment_arm,
                   coalesce(r.handoff, false), r.notes, r.media_id, r.media_mime_type,
                   r.caption
              FROM ROWS FROM (jsonb_to_recordset(%(rows)s::jsonb) AS (
                   role text, content text, message_type text, tool_calls jsonb,
                   external_id text, prompt_tokens int, completion_tokens int,
                   cached_tokens int, cost numeric, response_time_ms int, model text,
                   booking_code text, reply_to_message_id text, held boolean,
                   experiment_arm text, handoff boolean, notes text[], media_id text,
                   media_mime_type text, caption text))
                   WITH ORDINALITY AS r(
                   role, content, message_type, tool_calls, external_id, prompt_tokens,
                   completion_tokens, cached_tokens, cost, response_time_ms, model,
                   booking_code, reply_to_message_id, held, experiment_arm, handoff, notes,
                   media_id, media_mime_type, caption, ord)
             ORDER BY ord
            RETURNING id, tokens_used, cost, booking_code
        ), counted AS (
            UPDATE ai_conversations
               SET message_count = message_count + (SELECT count(*) FROM new),
                   total_tokens = total_tokens + (SELECT coalesce(sum(tokens_used), 0) FROM new),
                   total_cost = total_cost + (SELECT coalesce(sum(cost), 0) FROM new),
                   booking_count = booking_count
                       + (SELECT count(*) FROM new WHERE booking_code IS NOT NULL),
                   last_message_at = now(),
                   updated_at = now()
             WHERE id = %(conversation)s
        )
        SELECT id FROM new ORDER BY id
        """,
        {
            "conversation": conversation.id,
            "salon": conversation.salon_id,
            "rows": json.dumps(clean_strings(rows), ensure_ascii=False, default=str),
        },
    ).fetchall()
    return [row["id"] for row in result]


def history(
    conn: Connection, conversation: str, *, limit: int, token_budget: int
) -> list[HistoryEntry]:
    """The last `limit` customer, assistant and staff messages, oldest first, dropping the
    oldest while their estimated tokens exceed `token_budget` (the newest always stays)."""
    rows = conn.execute(
        """
        SELECT role, content FROM ai_messages
         WHERE conversation_id = %s AND role IN ('user', 'assistant', 'staff')
               AND content <> ''
         ORDER BY id DESC
         LIMIT %s
        """,
        (conversation, limit),
    ).fetchall()
    kept: list[HistoryEntry] = []
    used = 0
    for row in rows:  # newest first
        cost = estimate_tokens(row["content"])
        if kept and used + cost > token_budget:
            break
        kept.append(HistoryEntry(row["role"], row["content"]))
        used += cost
    kept.reverse()
    return kept


def assign_arm(conn: Connection, conversation: str, arm: str) -> None:
    """Keep the experiment's arm on the conversation: later turns read it back."""
    conn.execute(
        "UPDATE ai_conversations SET experiment_arm = %s WHERE id = %s", (arm, conversation)
    )


def record_staff_notice(
    conn: Connection, conversation: str, *, notified_at: dt.datetime | None
) -> None:
    """One more message stored for staff: counted as not yet notified, or, with
    `notified_at`, covered by the notification published then (the count starts over)."""
    if notified_at is None:
        conn.execute(
            "UPDATE ai_conversations SET staff_unnotified = staff_unnotified + 1 WHERE id = %s",
            (conversation,),
        )
    else:
        conn.execute(
            "UPDATE ai_conversations SET staff_notified_at = %s, staff_unnotified = 0 "
            "WHERE id = %s",
            (notified_at, conversation),
        )


def get_state(conn: Connection, conversation: str) -> dict[str, Any]:
    """The guided flow's dialogue state (empty for a new conversation)."""
    row = conn.execute(
        "SELECT state FROM ai_conversations WHERE id = %s", (conversation,)
    ).fetchone()
    return dict(row["state"]) if row and row["state"] else {}


def set_state(conn: Connection, conversation: str, state: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE ai_conversations SET state = %s::jsonb, state_updated_at = now(), "
        "updated_at = now() WHERE id = %s",
        (json.dumps(state, ensure_ascii=False, default=str), conversation),
    )


def clear_state(conn: Connection, conversation: str) -> None:
    """Forget the guided flow's dialogue (another engine answered the customer since it
    asked its question). Writes only when there is something to forget."""
    conn.execute(
        "UPDATE ai_conversations SET state = '{}'::jsonb, state_updated_at = now(), "
        "updated_at = now() WHERE id = %s AND state <> '{}'::jsonb",
        (conversation,),
    )


def record_referral(
    conn: Connection, conversation: str, referral: dict[str, Any], *, at: dt.datetime
) -> None:
    """The click-to-WhatsApp ad (or post) the customer came from, kept for attribution:
    the latest one wins."""
    conn.execute(
        "UPDATE ai_conversations SET referral = %s::jsonb, referral_at = %s, updated_at = now() "
        "WHERE id = %s",
        (json.dumps(clean_strings(referral), ensure_ascii=False, default=str), at, conversation),
    )


def correct_message(conn: Connection, salon_id: uuid.UUID, external_id: str, content: str) -> bool:
    """The customer edited a message: its stored content becomes the corrected text.
    False when no stored message has that id (edited before it reached us)."""
    row = conn.execute(
        "UPDATE ai_messages SET content = %s, edited_at = now() "
        "WHERE external_id = %s AND salon_id = %s AND role = 'user' RETURNING id",
        (clean_strings(content), external_id, salon_id),
    ).fetchone()
    return row is not None


def delete_message(conn: Connection, salon_id: uuid.UUID, external_id: str) -> bool:
    """The customer deleted a message: its content is cleared (it leaves the history the
    model reads), the row stays, marked deleted. False when no stored message has that id."""
    row = conn.execute(
        "UPDATE ai_messages SET content = '', deleted_at = now() "
        "WHERE external_id = %s AND salon_id = %s AND role = 'user' RETURNING id",
        (external_id, salon_id),
    ).fetchone()
    return row is not None


def move_conversation(
    conn: Connection, salon_id: uuid.UUID, old_phone: str, new_phone: str
) -> str | None:
    """The customer's number changed: their conversation (history, dialogue state,
    hand-off, referral) continues under the new number's id. The new id, or None when
    there was no conversation under the old number. If the new number already has one,
    the old one's messages join it."""
    old_id, new_id = conversation_id(salon_id, old_phone), conversation_id(salon_id, new_phone)
    if old_id == new_id:
        return None
    moved = conn.execute(
        """
        INSERT INTO ai_conversations AS c (
            id, salon_id, phone_number, client_id, status, handoff_until, language, state,
            message_count, booking_count, total_tokens, total_cost, last_message_at,
            staff_notified_at, staff_unnotified, referral, referral_at, state_updated_at,
            created_at)
        SELECT %(new)s, salon_id, %(phone)s, client_id, status, handoff_until, language, state,
               message_count, booking_count, total_tokens, total_cost, last_message_at,
               staff_notified_at, staff_unnotified, referral, referral_at, state_updated_at,
               created_at
          FROM ai_conversations WHERE id = %(old)s
        ON CONFLICT (id) DO UPDATE
           SET message_count = c.message_count + EXCLUDED.message_count,
               booking_count = c.booking_count + EXCLUDED.booking_count,
               referral = coalesce(c.referral, EXCLUDED.referral)
        RETURNING id
        """,
        {"new": new_id, "old": old_id, "phone": new_phone},
    ).fetchone()
    if moved is None:
        return None
    params = {"new": new_id, "old": old_id}
    conn.execute(
        "UPDATE ai_messages SET conversation_id = %(new)s WHERE conversation_id = %(old)s", params
    )
    conn.execute(
        "UPDATE inbound_messages SET conversation_id = %(new)s WHERE conversation_id = %(old)s",
        params,
    )
    conn.execute("DELETE FROM ai_conversations WHERE id = %(old)s", params)
    return new_id


def take_held(conn: Connection, conversation: str) -> list[str]:
    """The texts of the burst's messages stored without a reply (oldest first), marked
    answered: the turn that calls this answers them."""
    rows = conn.execute(
        """
        UPDATE ai_messages SET held = false
         WHERE conversation_id = %s AND held AND content <> ''
        RETURNING id, content
        """,
        (conversation,),
    ).fetchall()
    return [row["content"] for row in sorted(rows, key=lambda r: r["id"])]
