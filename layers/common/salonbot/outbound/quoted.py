"""Which booking a message of ours names, when a customer replies to it (WhatsApp's
`context.id`, `CustomerMessage.reply_to_message_id`).

- a reminder or a feedback request (`outbound_messages`): its booking, with its kind;
- a reply of ours in the ledger (a booking confirmation, a move, a cancellation): the
  booking recorded with that reply, else the booking code its text shows.

The reminder's buttons (`salonbot.outbound.buttons`) act on the first kind; the guided
flow on the second (a "cancel" or "move" quoting a confirmation is about that booking)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from salonbot.booking.codes import looks_like_code
from salonbot.processing import ledger

if TYPE_CHECKING:
    import uuid

    from salonbot.db.connection import Connection

REPLY = "reply"  # the kind of a quoted reply of ours (not a message the salon started)
_TOKEN = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class QuotedBooking:
    code: str
    kind: str  # `outbound_messages.kind` (reminder, feedback, ...) or REPLY


def outbound_booking(conn: Connection, salon_id: uuid.UUID, wamid: str) -> QuotedBooking | None:
    """The booking of a reminder or feedback request the salon sent as `wamid`."""
    row = conn.execute(
        "SELECT b.code, o.kind FROM outbound_messages o JOIN bookings b ON b.id = o.booking_id "
        "WHERE o.wamid = %s AND o.salon_id = %s",
        (wamid, salon_id),
    ).fetchone()
    return QuotedBooking(row["code"], row["kind"]) if row is not None else None


def reply_booking(conn: Connection, salon_id: uuid.UUID, wamid: str) -> QuotedBooking | None:
    """The booking a reply of ours (`wamid`) was about: recorded with it, else in its text."""
    code = ledger.reply_booking(conn, salon_id, wamid)
    if code is None:
        code = code_in(ledger.sent_text(conn, salon_id, wamid) or "")
    return QuotedBooking(code, REPLY) if code is not None else None


def quoted_booking(conn: Connection, salon_id: uuid.UUID, wamid: str) -> QuotedBooking | None:
    """The booking any message of ours sent as `wamid` names, or None."""
    return outbound_booking(conn, salon_id, wamid) or reply_booking(conn, salon_id, wamid)


def code_in(text: str) -> str | None:
    """The one booking code a text of ours shows (None: none, or several)."""
    codes = {token for token in _TOKEN.findall(text) if looks_like_code(token)}
    return codes.pop() if len(codes) == 1 else None
