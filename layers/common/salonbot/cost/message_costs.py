"""`message_costs`: what each message the salon sent costs at WhatsApp.

Priced when sent, from the rate table (`whatsapp_rates`); repriced when its status
webhook carries Meta's `pricing` object (the category it was billed as, and whether it was
billable at all). Stats and cost estimates read the sums."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from salonbot.cost import whatsapp_rates

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from collections.abc import Sequence

    from salonbot.db.connection import Connection

# Meta's pricing `type` values for a message it did not bill.
FREE_TYPES = frozenset({"free_customer_service", "free_entry_point"})


@dataclass(frozen=True)
class SentMessage:
    wamid: str
    salon_id: uuid.UUID
    phone: str
    category: str
    price_usd: Decimal


def record(conn: Connection, sent: Sequence[SentMessage]) -> None:
    """Price sent messages in one round trip (a message already priced keeps its row)."""
    rows = [
        {
            "wamid": m.wamid,
            "salon_id": str(m.salon_id),
            "category": m.category,
            "market": whatsapp_rates.market_of(m.phone),
            "price_usd": str(m.price_usd),
        }
        for m in sent
        if m.wamid
    ]
    if not rows:
        return
    conn.execute(
        """
        INSERT INTO message_costs (wamid, salon_id, category, market, price_usd, priced_by)
        SELECT wamid, salon_id, category, market, price_usd, 'rate_table'
          FROM jsonb_to_recordset(%s::jsonb) AS r(
               wamid text, salon_id uuid, category text, market text, price_usd numeric)
        ON CONFLICT (wamid) DO NOTHING
        """,
        (json.dumps(rows),),
    )


def reprice(
    conn: Connection,
    *,
    wamid: str,
    phone_number_id: str,
    recipient: str | None,
    category: str,
    pricing_type: str | None,
    billable: bool | None = None,
) -> None:
    """Meta's `pricing` object for one of our messages: its billed category and price."""
    free = (billable is False) or (pricing_type in FREE_TYPES)
    phone = recipient or ""
    conn.execute(
        """
        INSERT INTO message_costs AS c (wamid, salon_id, category, market, price_usd, priced_by)
        SELECT %(wamid)s, s.id, %(category)s, %(market)s, %(price)s, 'pricing'
          FROM salons s WHERE s.whatsapp_phone_number_id = %(pnid)s
        ON CONFLICT (wamid) DO UPDATE
           SET category = EXCLUDED.category, price_usd = EXCLUDED.price_usd,
               priced_by = 'pricing'
        """,
        {
            "wamid": wamid,
            "category": category,
            "market": whatsapp_rates.market_of(phone),
            "price": whatsapp_rates.price(category, phone, billable=not free),
            "pnid": phone_number_id,
        },
    )


@dataclass(frozen=True)
class Spend:
    messages: int
    cost_usd: Decimal
    by_category: dict[str, Decimal]


def spend(conn: Connection, salon_id: uuid.UUID, since: dt.datetime, until: dt.datetime) -> Spend:
    rows = conn.execute(
        """
        SELECT category, count(*) AS messages, coalesce(sum(price_usd), 0) AS cost
          FROM message_costs
         WHERE salon_id = %s AND created_at >= %s AND created_at < %s
         GROUP BY category ORDER BY category
        """,
        (salon_id, since, until),
    ).fetchall()
    return Spend(
        messages=sum(int(r["messages"]) for r in rows),
        cost_usd=sum((Decimal(r["cost"]) for r in rows), Decimal(0)),
        by_category={r["category"]: Decimal(r["cost"]) for r in rows},
    )
