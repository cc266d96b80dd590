"""WhatsApp's 24-hour customer service window.

A business may send free-form messages (text, interactive lists and buttons) only within
24 hours of the customer's last message to it; outside, only an approved template goes
out, and the Cloud API refuses anything else with error 131047. Every free-form message
the salon starts (a reminder without a template, a staff reply, an offer) asks `is_open`
first, with the conversation's `last_inbound_at`, so none is refused or billed by
surprise."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from salonbot.errors import SalonbotError

if TYPE_CHECKING:
    from salonbot.db.connection import Connection

WINDOW = dt.timedelta(hours=24)
# Margin kept before the window closes: a message sent just before the end may reach
# Meta after it.
CLOSING_MARGIN = dt.timedelta(minutes=5)


class OutsideWindow(SalonbotError):
    """A free-form message was about to go out after the customer's window closed (or
    within `CLOSING_MARGIN` of it); `reason` says since when, for the staff API's 409."""

    def __init__(self, last_inbound_at: dt.datetime | None, now: dt.datetime) -> None:
        self.last_inbound_at = last_inbound_at
        closes = closes_at(last_inbound_at)
        if closes is None:
            reason = "the customer has not written to the salon, so only a template may be sent"
        elif closes <= now:
            reason = (
                "the 24-hour customer-service window closed at "
                f"{closes.isoformat(timespec='minutes')}: only an approved template may be sent"
            )
        else:
            reason = (
                "the 24-hour customer-service window closes at "
                f"{closes.isoformat(timespec='minutes')}, too soon for free-form text: "
                "only an approved template may be sent"
            )
        super().__init__(reason)
        self.reason = reason


def is_open(last_inbound_at: dt.datetime | None, now: dt.datetime) -> bool:
    """True while a free-form message may go out: the customer wrote within 24 hours
    (less `CLOSING_MARGIN`). Never written: closed."""
    if last_inbound_at is None:
        return False
    return now - last_inbound_at < WINDOW - CLOSING_MARGIN


def closes_at(last_inbound_at: dt.datetime | None) -> dt.datetime | None:
    return None if last_inbound_at is None else last_inbound_at + WINDOW


def last_inbound_at(conn: Connection, conversation_id: str) -> dt.datetime | None:
    row = conn.execute(
        "SELECT last_inbound_at FROM ai_conversations WHERE id = %s", (conversation_id,)
    ).fetchone()
    return None if row is None else row["last_inbound_at"]


def require_open(last_inbound_at: dt.datetime | None, now: dt.datetime) -> None:
    """Raise `OutsideWindow` unless a free-form message may go out now."""
    if not is_open(last_inbound_at, now):
        raise OutsideWindow(last_inbound_at, now)
