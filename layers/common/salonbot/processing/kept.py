"""Customer messages no engine answers, kept for the salon's staff (`kept_messages`)
instead of being dropped: too old to answer when the webhook received them (`stale`), or
for a WhatsApp number no salon has (`unknown_number`, with no salon). Each is kept once
per WhatsApp message id and counted (`MessagesKeptForStaff`); `salonbot messages kept`
lists them, and a salon's wait in the staff inbox (`staff.inbox`) in the customer's
conversation, opened for them here if it is their first message."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.clean_text import clean_text
from salonbot.observability import MetricName, logger, mask_phone, metrics

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from salonbot.db.connection import Connection
    from salonbot.whatsapp.events import InboundMessage

STALE, UNKNOWN_NUMBER = "stale", "unknown_number"
REASONS = (STALE, UNKNOWN_NUMBER)


@dataclass(frozen=True)
class KeptMessage:
    message_id: str
    salon_id: uuid.UUID | None
    phone_number_id: str
    phone_number: str
    contact_name: str | None
    message_type: str
    content: str
    reason: str
    sent_at: dt.datetime
    received_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["salon_id"] = str(self.salon_id) if self.salon_id else None
        data["sent_at"] = self.sent_at.isoformat()
        data["received_at"] = self.received_at.isoformat()
        return data


def keep(
    conn: Connection, message: InboundMessage, reason: str, *, salon_id: uuid.UUID | None
) -> bool:
    """Keep `message` for the staff; False when it was kept before (a redelivery)."""
    row = conn.execute(
        """
        INSERT INTO kept_messages (message_id, salon_id, phone_number_id, phone_number,
                                   contact_name, message_type, content, reason, sent_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING 1 AS kept
        """,
        (
            message.message_id,
            salon_id,
            clean_text(message.phone_number_id),
            message.phone,
            message.contact_name,
            clean_text(message.type),
            message.said,
            reason,
            message.timestamp,
        ),
    ).fetchone()
    if row is None:
        return False
    if salon_id is not None:
        # The customer gets a conversation (if this is their first message) for the staff
        # inbox to list it and the thread to open; the message's time is WhatsApp's.
        from salonbot.conversation.store import open_conversation

        open_conversation(conn, salon_id, message.phone, inbound_at=message.timestamp)
    metrics.add_metric(name=MetricName.MESSAGES_KEPT, unit=MetricUnit.Count, value=1)
    logger.warning(
        "customer message kept for the staff, not answered",
        extra={
            "reason": reason,
            "phone_number_id": message.phone_number_id,
            "from": mask_phone(message.phone),
        },
    )
    return True


def kept_messages(
    conn: Connection,
    *,
    salon_id: uuid.UUID | str | None = None,
    reason: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 50,
) -> list[KeptMessage]:
    """The latest kept messages first, for one salon or all (those of unknown numbers
    have none), of one reason or all."""
    rows = conn.execute(
        """
        SELECT message_id, salon_id, phone_number_id, phone_number, contact_name,
               message_type, content, reason, sent_at, received_at
          FROM kept_messages
         WHERE (%(salon)s::uuid IS NULL OR salon_id = %(salon)s::uuid)
           AND (%(reason)s::text IS NULL OR reason = %(reason)s::text)
           AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s::timestamptz)
         ORDER BY received_at DESC, message_id
         LIMIT %(limit)s
        """,
        {
            "salon": str(salon_id) if salon_id else None,
            "reason": reason,
            "since": since,
            "limit": limit,
        },
    ).fetchall()
    return [KeptMessage(**row) for row in rows]
