"""Conversations worth an owner's look over a window `[since, until)`, newest first.

A conversation is listed with every reason it has, read from what the turns stored:
- `booking_intent_without_booking`: the customer asked to book (their words, as the
  guided flow understands them, or a slot search or booking attempt by an engine) and
  no booking came of the conversation in the window;
- `handoff`: a reply passed the conversation to staff (`ai_messages.handoff`);
- `model_failure`: the fallback answered because the model failed (the router's note
  names why: `model_error`, `reply_cut`, `model_quota`, `breaker_auth`, ...);
- `guardrail`: a model's reply was replaced before it reached the customer (the agent's
  note names which check: `revealed_internals`, `unknown_code`, `unmade_booking`);
- `low_rating`: a booking of the conversation was rated `LOW_RATING` or less, once visits
  are rated (`salonbot.ratings`).
Each comes with the last messages of the conversation in the window, each cut short."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput, UnknownSalon
from salonbot.experiment_stats import FALLBACK_NOTE, MODEL_FAILED, NOT_MODEL_FAILURES
from salonbot.ratings import LOW_RATING, rating_column

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.db.connection import Connection

INTENT, HANDOFF, MODEL_FAILURE, GUARDRAIL, LOW = (
    "booking_intent_without_booking",
    "handoff",
    "model_failure",
    "guardrail",
    "low_rating",
)
GUARDRAIL_NOTE = "guardrail: "
# Engine actions that show the customer was being booked (tools and guided actions).
BOOKING_ACTIONS = ("slots", "book")
DEFAULT_LAST_MESSAGES = 6
DEFAULT_WIDTH = 160
MAX_CONVERSATIONS = 500


@dataclass(frozen=True)
class TranscriptLine:
    at: dt.datetime
    role: str  # user | assistant | staff
    text: str  # cut to the width, "…" where cut


@dataclass(frozen=True)
class ReviewItem:
    conversation_id: str
    phone: str
    experiment_arm: str | None
    last_message_at: dt.datetime
    reasons: list[str]
    details: list[str] = field(default_factory=list)  # guardrail kinds, ratings
    transcript: list[TranscriptLine] = field(default_factory=list)  # oldest first

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_message_at"] = self.last_message_at.isoformat()
        for line in data["transcript"]:
            line["at"] = line["at"].isoformat()
        return data


_FLAGS = f"""
WITH m AS (
    SELECT *, {MODEL_FAILED} AS model_failed FROM ai_messages
    WHERE salon_id = %(salon)s AND created_at >= %(since)s AND created_at < %(until)s
)
SELECT m.conversation_id, c.phone_number AS phone, c.experiment_arm,
       max(m.created_at) AS last_message_at,
       bool_or(m.handoff) AS handoff,
       (SELECT coalesce(array_agg(DISTINCT n ORDER BY n), '{{}}')
          FROM m f, unnest(f.notes) n
         WHERE f.conversation_id = m.conversation_id AND f.model_failed
           AND n LIKE %(fallback)s || '%%') AS model_failures,
       coalesce(array_agg(DISTINCT m.booking_code)
                FILTER (WHERE m.booking_code IS NOT NULL), '{{}}') AS bookings,
       bool_or(m.tool_calls @> ANY(%(actions)s::jsonb[])) AS booking_action,
       (SELECT coalesce(array_agg(DISTINCT substr(n, length(%(guardrail)s) + 1)), '{{}}')
          FROM m g, unnest(g.notes) n
         WHERE g.conversation_id = m.conversation_id AND n LIKE %(guardrail)s || '%%')
           AS guardrails
  FROM m JOIN ai_conversations c ON c.id = m.conversation_id
 GROUP BY m.conversation_id, c.phone_number, c.experiment_arm
 ORDER BY max(m.created_at) DESC, m.conversation_id
"""

_USER_TEXTS = """
SELECT conversation_id, content FROM ai_messages
 WHERE salon_id = %(salon)s AND created_at >= %(since)s AND created_at < %(until)s
   AND role = 'user' AND conversation_id = ANY(%(conversations)s)
"""

_RATED = """
SELECT code, {column} AS rating FROM bookings
 WHERE salon_id = %(salon)s AND code = ANY(%(codes)s) AND {column} <= %(low)s
"""

_TRANSCRIPTS = """
SELECT conversation_id, created_at, role, content FROM (
    SELECT conversation_id, created_at, role, content, id,
           row_number() OVER (PARTITION BY conversation_id ORDER BY id DESC) AS back
      FROM ai_messages
     WHERE salon_id = %(salon)s AND created_at >= %(since)s AND created_at < %(until)s
       AND role IN ('user', 'assistant', 'staff') AND content <> ''
       AND conversation_id = ANY(%(conversations)s)
) t WHERE back <= %(last)s
ORDER BY conversation_id, id
"""


def cut(text: str, width: int) -> str:
    """One line of at most `width` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def review(
    conn: Connection,
    salon_id: uuid.UUID | str,
    since: dt.datetime,
    until: dt.datetime,
    *,
    last_messages: int = DEFAULT_LAST_MESSAGES,
    width: int = DEFAULT_WIDTH,
    limit: int = MAX_CONVERSATIONS,
) -> list[ReviewItem]:
    """The salon's conversations worth a look in the window, newest first, at most
    `limit`, each with its last `last_messages` messages cut to `width` characters."""
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput("must be timezone-aware", field="from/to")
    if since >= until:
        raise InvalidInput("must be before `to`", field="from")
    if not 1 <= last_messages <= 50:
        raise InvalidInput("must be between 1 and 50", field="last")
    if not 20 <= width <= 2000:
        raise InvalidInput("must be between 20 and 2000", field="width")
    try:
        salon = uuid.UUID(str(salon_id))
    except ValueError as exc:
        raise InvalidInput("not a UUID", field="salon_id") from exc
    if conn.execute("SELECT 1 FROM salons WHERE id = %s", (salon,)).fetchone() is None:
        raise UnknownSalon(str(salon))
    params: dict[str, Any] = {
        "salon": salon,
        "since": since,
        "until": until,
        "fallback": FALLBACK_NOTE,
        "not_failures": list(NOT_MODEL_FAILURES),
        "guardrail": GUARDRAIL_NOTE,
        "actions": [f'[{{"name": "{name}"}}]' for name in BOOKING_ACTIONS],
    }
    flags = conn.execute(_FLAGS, params).fetchall()
    unbooked = [row["conversation_id"] for row in flags if not row["bookings"]]
    asked = _asked_to_book(conn, params, unbooked)
    low = _low_ratings(conn, params, [code for row in flags for code in row["bookings"]])
    items: list[ReviewItem] = []
    for row in flags:
        reasons: list[str] = []
        details: list[str] = []
        if not row["bookings"] and (row["booking_action"] or row["conversation_id"] in asked):
            reasons.append(INTENT)
        if row["handoff"]:
            reasons.append(HANDOFF)
        if row["model_failures"]:
            reasons.append(MODEL_FAILURE)
            details += list(row["model_failures"])
        if row["guardrails"]:
            reasons.append(GUARDRAIL)
            details += [f"guardrail: {kind}" for kind in sorted(row["guardrails"])]
        rated = [(code, low[code]) for code in sorted(row["bookings"]) if code in low]
        if rated:
            reasons.append(LOW)
            details += [f"rating {rating}: {code}" for code, rating in rated]
        if reasons:
            items.append(
                ReviewItem(
                    conversation_id=row["conversation_id"],
                    phone=row["phone"],
                    experiment_arm=row["experiment_arm"],
                    last_message_at=row["last_message_at"],
                    reasons=reasons,
                    details=details,
                )
            )
        if len(items) == limit:
            break
    return _with_transcripts(conn, params, items, last_messages, width)


def _asked_to_book(conn: Connection, params: dict[str, Any], conversations: list[str]) -> set[str]:
    from salonbot.assistant.parsing import BOOK, detect_intents

    if not conversations:
        return set()
    rows = conn.execute(_USER_TEXTS, {**params, "conversations": conversations}).fetchall()
    return {row["conversation_id"] for row in rows if BOOK in detect_intents(row["content"])}


def _low_ratings(conn: Connection, params: dict[str, Any], codes: list[str]) -> dict[str, int]:
    column = rating_column(conn) if codes else None
    if column is None:
        return {}
    from psycopg import sql

    query = sql.SQL(_RATED).format(column=sql.Identifier(column))
    rows = conn.execute(query, {**params, "codes": codes, "low": LOW_RATING}).fetchall()
    return {row["code"]: int(row["rating"]) for row in rows}


def _with_transcripts(
    conn: Connection,
    params: dict[str, Any],
    items: list[ReviewItem],
    last_messages: int,
    width: int,
) -> list[ReviewItem]:
    if not items:
        return items
    rows = conn.execute(
        _TRANSCRIPTS,
        {**params, "conversations": [i.conversation_id for i in items], "last": last_messages},
    ).fetchall()
    lines: dict[str, list[TranscriptLine]] = {}
    for row in rows:
        lines.setdefault(row["conversation_id"], []).append(
            TranscriptLine(row["created_at"], row["role"], cut(row["content"], width))
        )
    return [
        ReviewItem(
            conversation_id=i.conversation_id,
            phone=i.phone,
            experiment_arm=i.experiment_arm,
            last_message_at=i.last_message_at,
            reasons=i.reasons,
            details=i.details,
            transcript=lines.get(i.conversation_id, []),
        )
        for i in items
    ]
