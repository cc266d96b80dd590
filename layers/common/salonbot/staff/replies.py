"""A staff member answers a customer through salonbot: checked against WhatsApp's
customer-service window, sent as text, stored as a `staff` message with who wrote it, and
the hand-off started or extended (`handoff.staff_answering`), all in one transaction with
the request's idempotency claim. The window is outbound's (`outbound.window`, from the
conversation's `last_inbound_at`, WhatsApp's time of the customer's last message): outside
it nothing is sent, `OutsideWindow` (409) says since when it is closed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.conversation.store import Conversation, NewMessage, append_messages
from salonbot.errors import ConfigurationError
from salonbot.outbound import window
from salonbot.staff.handoff import staff_answering
from salonbot.staff.inbox import UnknownConversation
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection

# Sends one text to a customer for a salon's number; returns WhatsApp's message id.
Sender = Callable[[str, str, TextMessage], str]


@dataclass(frozen=True)
class SentReply:
    message_id: int
    whatsapp_id: str
    conversation_id: str
    handoff_until: dt.datetime
    at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "whatsapp_message_id": self.whatsapp_id,
            "conversation_id": self.conversation_id,
            "handoff_until": self.handoff_until.isoformat(),
            "at": self.at.isoformat(),
        }


def locked_conversation(conn: Connection, salon: Salon, conversation_id: str) -> Conversation:
    """The salon's conversation, locked for this transaction; `UnknownConversation` else."""
    row = conn.execute(
        "SELECT id, salon_id, phone_number, status, handoff_until, language, "
        "message_count, booking_count, last_inbound_at FROM ai_conversations "
        "WHERE id = %s AND salon_id = %s FOR UPDATE",
        (conversation_id, salon.id),
    ).fetchone()
    if row is None:
        raise UnknownConversation(f"no conversation {conversation_id}")
    return Conversation(
        id=row["id"],
        salon_id=row["salon_id"],
        phone_number=row["phone_number"],
        status=row["status"],
        handoff_until=row["handoff_until"],
        language=row["language"],
        state={},
        message_count=row["message_count"],
        booking_count=row["booking_count"],
        created=False,
        last_inbound_at=row["last_inbound_at"],
    )


def store_staff_message(
    conn: Connection,
    conversation: Conversation,
    text: str,
    wamid: str,
    *,
    staff_user: str,
    handoff: dt.timedelta,
    now: dt.datetime,
) -> SentReply:
    """A message staff sent, stored with who wrote it; the hand-off starts or extends."""
    (message_id,) = append_messages(
        conn, conversation, [NewMessage(role="staff", content=text, external_id=wamid)]
    )
    conn.execute("UPDATE ai_messages SET staff_user = %s WHERE id = %s", (staff_user, message_id))
    until = staff_answering(conn, conversation.id, until=now + handoff, replied_at=now)
    return SentReply(message_id, wamid, conversation.id, until, now)


def send_staff_reply(
    conn: Connection,
    salon: Salon,
    conversation_id: str,
    text: str,
    *,
    staff_user: str,
    handoff: dt.timedelta,
    send: Sender,
    now: dt.datetime,
) -> SentReply:
    """In the caller's transaction: lock the conversation, check the window, send, store."""
    conversation = locked_conversation(conn, salon, conversation_id)
    window.require_open(conversation.last_inbound_at, now)
    if not salon.whatsapp_phone_number_id:
        raise ConfigurationError("the salon has no WhatsApp number to send from")
    wamid = send(salon.whatsapp_phone_number_id, conversation.phone_number, TextMessage(body=text))
    return store_staff_message(
        conn, conversation, text, wamid, staff_user=staff_user, handoff=handoff, now=now
    )
