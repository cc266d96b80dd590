"""WhatsApp's customer-service window: free-form text reaches a customer only within 24
hours of their last message to the salon; outside it only an approved template may be
sent. The staff reply checks it here, from the conversation's last customer message."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from salonbot.db.connection import Connection

SERVICE_WINDOW = dt.timedelta(hours=24)


def last_customer_message_at(conn: Connection, conversation_id: str) -> dt.datetime | None:
    row = conn.execute(
        "SELECT max(created_at) AS at FROM ai_messages "
        "WHERE conversation_id = %s AND role = 'user'",
        (conversation_id,),
    ).fetchone()
    return row["at"] if row else None


def window_closes_at(last_customer_message: dt.datetime | None) -> dt.datetime | None:
    return None if last_customer_message is None else last_customer_message + SERVICE_WINDOW


def window_open(last_customer_message: dt.datetime | None, now: dt.datetime) -> bool:
    closes = window_closes_at(last_customer_message)
    return closes is not None and now < closes
