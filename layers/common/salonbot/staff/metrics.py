"""The figures behind the console's charts, per local day of the salon: model spend
against the daily budget, conversations, bookings made, conversion (conversations with
a booking among those of the day), the zero-token share of replies (answered without a
model call: guided flow, FAQ) and no-shows. One query; days with nothing are zeros."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput

if TYPE_CHECKING:
    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection

MAX_DAYS = 366


@dataclass(frozen=True)
class DayFigures:
    day: dt.date
    spend_usd: Decimal
    budget_usd: Decimal
    conversations: int
    conversations_with_booking: int
    bookings: int
    replies: int
    zero_token_replies: int
    no_shows: int

    @property
    def conversion(self) -> float:
        return self.conversations_with_booking / self.conversations if self.conversations else 0.0

    @property
    def zero_token_share(self) -> float:
        return self.zero_token_replies / self.replies if self.replies else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "spend_usd": float(self.spend_usd),
            "budget_usd": float(self.budget_usd),
            "conversations": self.conversations,
            "conversations_with_booking": self.conversations_with_booking,
            "conversion": round(self.conversion, 4),
            "bookings": self.bookings,
            "replies": self.replies,
            "zero_token_replies": self.zero_token_replies,
            "zero_token_share": round(self.zero_token_share, 4),
            "no_shows": self.no_shows,
        }


_SQL = """
WITH days AS (
    SELECT d::date AS day FROM generate_series(%(first)s::date, %(last)s::date, '1 day') AS d
), m AS (
    SELECT (created_at AT TIME ZONE %(tz)s)::date AS day, conversation_id, role,
           tokens_used, cost, booking_code
      FROM ai_messages
     WHERE salon_id = %(salon)s AND created_at >= %(start)s AND created_at < %(end)s
), md AS (
    SELECT day,
           sum(cost) AS spend,
           count(DISTINCT conversation_id) FILTER (WHERE role = 'user') AS conversations,
           count(DISTINCT conversation_id) FILTER (WHERE booking_code IS NOT NULL)
               AS converted,
           count(*) FILTER (WHERE role = 'assistant') AS replies,
           count(*) FILTER (WHERE role = 'assistant' AND tokens_used = 0) AS zero_token
      FROM m GROUP BY day
), bd AS (
    SELECT (created_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS bookings
      FROM bookings
     WHERE salon_id = %(salon)s AND created_at >= %(start)s AND created_at < %(end)s
     GROUP BY 1
), nd AS (
    SELECT (starts_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS no_shows
      FROM bookings
     WHERE salon_id = %(salon)s AND status = 'no_show'
       AND starts_at >= %(start)s AND starts_at < %(end)s
     GROUP BY 1
)
SELECT days.day, coalesce(md.spend, 0) AS spend, coalesce(md.conversations, 0) AS conversations,
       coalesce(md.converted, 0) AS converted, coalesce(md.replies, 0) AS replies,
       coalesce(md.zero_token, 0) AS zero_token, coalesce(bd.bookings, 0) AS bookings,
       coalesce(nd.no_shows, 0) AS no_shows
  FROM days
  LEFT JOIN md ON md.day = days.day
  LEFT JOIN bd ON bd.day = days.day
  LEFT JOIN nd ON nd.day = days.day
 ORDER BY days.day
"""


def daily_figures(
    conn: Connection, salon: Salon, first: dt.date, last: dt.date
) -> list[DayFigures]:
    """One entry per local day from `first` to `last`, both included."""
    if last < first:
        raise InvalidInput("must not be after `to`", field="from")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once", field="from")
    start = dt.datetime.combine(first, dt.time(), salon.tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), salon.tz)
    rows = conn.execute(
        _SQL,
        {
            "first": first,
            "last": last,
            "tz": salon.timezone,
            "salon": salon.id,
            "start": start,
            "end": end,
        },
    ).fetchall()
    return [
        DayFigures(
            day=row["day"],
            spend_usd=Decimal(row["spend"]),
            budget_usd=salon.daily_budget_usd,
            conversations=int(row["conversations"]),
            conversations_with_booking=int(row["converted"]),
            bookings=int(row["bookings"]),
            replies=int(row["replies"]),
            zero_token_replies=int(row["zero_token"]),
            no_shows=int(row["no_shows"]),
        )
        for row in rows
    ]
