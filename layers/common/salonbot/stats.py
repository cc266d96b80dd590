"""Usage figures of one salon over a time window, in one query: messages, tokens, cost,
response times, bookings and booking conversion (conversations with a booking made by
the assistant / conversations active in the window), and the same per model-experiment
arm (`salonbot.experiment_stats`). The window is `[since, until)`."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput, UnknownSalon

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from salonbot.db.connection import Connection
    from salonbot.experiment_stats import ArmStats


# A window's ends lie between these years: far enough from datetime's limits that a
# day added to an end, or a default window's days taken from it, never overflows.
EARLIEST_YEAR, LATEST_YEAR = 1970, 9000


def window_bound(
    value: str, tz: ZoneInfo, *, end: bool, field: str, naive_is_local: bool
) -> dt.datetime:
    """One end of a stats window: a salon-local day (an end includes that day) or an ISO
    time. A time without an offset is salon-local when `naive_is_local`, else refused.
    A year outside `EARLIEST_YEAR`..`LATEST_YEAR` is refused (`InvalidInput`)."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        pass
    else:
        _check_year(day.year, field)
        start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        return start + dt.timedelta(days=1) if end else start
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("must be YYYY-MM-DD or an ISO time", field=field) from None
    _check_year(moment.year, field)
    if moment.tzinfo is not None:
        return moment
    if not naive_is_local:
        raise InvalidInput("an ISO time needs an offset, e.g. +03:00 or Z", field=field)
    return moment.replace(tzinfo=tz)


def _check_year(year: int, field: str) -> None:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise InvalidInput(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}", field=field)


@dataclass(frozen=True)
class SalonStats:
    salon_id: str
    since: dt.datetime
    until: dt.datetime
    conversations: int
    conversations_with_booking: int
    conversion_rate: float  # 0..1
    messages_received: int
    replies: int
    model_replies: int  # replies that cost tokens
    prompt_tokens: int
    completion_tokens: int
    tokens_used: int
    cost_usd: Decimal
    avg_response_time_ms: float | None
    p95_response_time_ms: float | None
    bookings_created: int  # all sources
    bookings_by_assistant: int
    bookings_cancelled: int
    # WhatsApp's side: messages the salon sent and what they cost (`message_costs`),
    # reminders sent and visits the customer confirmed from one.
    messages_sent: int = 0
    whatsapp_cost_usd: Decimal = Decimal(0)
    reminders_sent: int = 0
    bookings_confirmed_by_customer: int = 0
    # Visits rated in the window, per master code: {"average": 4.5, "ratings": 2}.
    ratings_by_master: dict[str, dict[str, float]] = field(default_factory=dict)
    # Per arm of the salon's model experiment; empty when it never ran one.
    arms: list[ArmStats] = field(default_factory=list)
    # Conversations of the window that came from a click-to-WhatsApp ad (`referral`),
    # and of them those with a booking by the assistant.
    conversations_from_ads: int = 0
    conversations_from_ads_with_booking: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["until"] = self.until.isoformat()
        data["cost_usd"] = str(self.cost_usd)
        data["whatsapp_cost_usd"] = str(self.whatsapp_cost_usd)
        data["arms"] = [arm.as_dict() for arm in self.arms]
        return data


_STATS = """
WITH m AS (
    SELECT * FROM ai_messages
    WHERE salon_id = %(salon)s AND created_at >= %(since)s AND created_at < %(until)s
), b AS (
    SELECT status, cancelled_at, created_at FROM bookings
    WHERE salon_id = %(salon)s
      AND (created_at >= %(since)s AND created_at < %(until)s
           OR cancelled_at >= %(since)s AND cancelled_at < %(until)s)
)
SELECT
    (SELECT count(*) FROM salons WHERE id = %(salon)s) AS salon_exists,
    (SELECT count(DISTINCT conversation_id) FROM m) AS conversations,
    (SELECT count(DISTINCT conversation_id) FROM m WHERE booking_code IS NOT NULL)
        AS conversations_with_booking,
    (SELECT count(*) FROM m WHERE role = 'user') AS messages_received,
    (SELECT count(*) FROM m WHERE role = 'assistant') AS replies,
    (SELECT count(*) FROM m WHERE role = 'assistant' AND tokens_used > 0) AS model_replies,
    (SELECT coalesce(sum(prompt_tokens), 0) FROM m) AS prompt_tokens,
    (SELECT coalesce(sum(completion_tokens), 0) FROM m) AS completion_tokens,
    (SELECT coalesce(sum(cost), 0) FROM m) AS cost_usd,
    (SELECT avg(response_time_ms) FROM m WHERE response_time_ms IS NOT NULL)
        AS avg_response_time_ms,
    (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) FROM m
     WHERE response_time_ms IS NOT NULL) AS p95_response_time_ms,
    (SELECT count(DISTINCT booking_code) FROM m WHERE booking_code IS NOT NULL)
        AS bookings_by_assistant,
    (SELECT count(*) FROM b WHERE created_at >= %(since)s AND created_at < %(until)s)
        AS bookings_created,
    (SELECT count(*) FROM b WHERE cancelled_at >= %(since)s AND cancelled_at < %(until)s)
        AS bookings_cancelled,
    (SELECT count(*) FROM ai_conversations c
      WHERE c.id IN (SELECT conversation_id FROM m) AND c.referral ->> 'source_type' = 'ad')
        AS conversations_from_ads,
    (SELECT count(*) FROM ai_conversations c
      WHERE c.id IN (SELECT conversation_id FROM m WHERE booking_code IS NOT NULL)
        AND c.referral ->> 'source_type' = 'ad')
        AS conversations_from_ads_with_booking,
    (SELECT count(*) FROM message_costs WHERE salon_id = %(salon)s
        AND created_at >= %(since)s AND created_at < %(until)s) AS messages_sent,
    (SELECT coalesce(sum(price_usd), 0) FROM message_costs WHERE salon_id = %(salon)s
        AND created_at >= %(since)s AND created_at < %(until)s) AS whatsapp_cost_usd,
    (SELECT count(*) FROM outbound_messages WHERE salon_id = %(salon)s AND state = 'sent'
        AND created_at >= %(since)s AND created_at < %(until)s) AS reminders_sent,
    (SELECT count(*) FROM bookings WHERE salon_id = %(salon)s
        AND customer_confirmed_at >= %(since)s AND customer_confirmed_at < %(until)s)
        AS bookings_confirmed_by_customer
"""


_RATINGS = """
SELECT m.code, avg(b.rating) AS average, count(*) AS ratings
  FROM bookings b JOIN masters m ON m.id = b.master_id
 WHERE b.salon_id = %(salon)s AND b.rating IS NOT NULL
   AND b.rated_at >= %(since)s AND b.rated_at < %(until)s
 GROUP BY m.code ORDER BY m.code
"""


def salon_stats(
    conn: Connection, salon_id: uuid.UUID | str, since: dt.datetime, until: dt.datetime
) -> SalonStats:
    from salonbot.experiment_stats import arm_stats

    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput("must be timezone-aware", field="from/to")
    if since >= until:
        raise InvalidInput("must be before `to`", field="from")
    try:
        salon = uuid.UUID(str(salon_id))
    except ValueError as exc:
        raise InvalidInput("not a UUID", field="salon_id") from exc
    window = {"salon": salon, "since": since, "until": until}
    row = conn.execute(_STATS, window).fetchone()
    assert row is not None
    if not row["salon_exists"]:
        raise UnknownSalon(str(salon))
    conversations = int(row["conversations"])
    with_booking = int(row["conversations_with_booking"])
    prompt, completion = int(row["prompt_tokens"]), int(row["completion_tokens"])
    avg, p95 = row["avg_response_time_ms"], row["p95_response_time_ms"]
    return SalonStats(
        salon_id=str(salon),
        since=since,
        until=until,
        conversations=conversations,
        conversations_with_booking=with_booking,
        conversion_rate=round(with_booking / conversations, 4) if conversations else 0.0,
        messages_received=int(row["messages_received"]),
        replies=int(row["replies"]),
        model_replies=int(row["model_replies"]),
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens_used=prompt + completion,
        cost_usd=Decimal(row["cost_usd"]),
        avg_response_time_ms=round(float(avg), 1) if avg is not None else None,
        p95_response_time_ms=round(float(p95), 1) if p95 is not None else None,
        bookings_created=int(row["bookings_created"]),
        bookings_by_assistant=int(row["bookings_by_assistant"]),
        bookings_cancelled=int(row["bookings_cancelled"]),
        messages_sent=int(row["messages_sent"]),
        whatsapp_cost_usd=Decimal(row["whatsapp_cost_usd"]),
        reminders_sent=int(row["reminders_sent"]),
        bookings_confirmed_by_customer=int(row["bookings_confirmed_by_customer"]),
        ratings_by_master={
            r["code"]: {"average": round(float(r["average"]), 2), "ratings": int(r["ratings"])}
            for r in conn.execute(_RATINGS, window).fetchall()
        },
        arms=arm_stats(conn, salon, since, until),
        conversations_from_ads=int(row["conversations_from_ads"]),
        conversations_from_ads_with_booking=int(row["conversations_from_ads_with_booking"]),
    )
