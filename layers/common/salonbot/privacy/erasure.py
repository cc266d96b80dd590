"""Erasure ("delete my data", GDPR art. 17, 152-FZ art. 21): one customer of one salon,
everywhere salonbot stores them.

In one PostgreSQL transaction, for the salon and the phone (E.164, WhatsApp's digits, and
the conversation id `conv_<salon>_<digits>` that embeds it):
- the conversation and its messages, the processing ledger rows (phone, reply texts),
  the delivery statuses of the replies sent to the phone, the reminders sent to it and
  its opt-out of the salon's messages, and the messages kept for the staff unanswered
  (`kept_messages`: the salon's, and those that came to its number before the salon had
  it) are deleted;
- a client with no booking is deleted; a client with bookings is anonymised (phone, name
  and language cleared, `anonymised_at` set) so the salon's figures stay: their bookings
  are kept without the WhatsApp message id that made them, and those still to come are
  cancelled (nobody could be reached about them, and their time is freed);
- the DynamoDB items keyed on the phone or on its message ids are deleted
  (`customer_items`) before the commit, so a DynamoDB failure rolls the whole erasure
  back and running it again finishes it.

Another salon's customer with the same phone is another salon's data and is left alone:
a delivery status names only the recipient, so one is kept when another salon's ledger
sent that message. Running it twice finds nothing the second time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.booking.store import normalize_phone
from salonbot.conversation.store import conversation_id
from salonbot.errors import UnknownSalon
from salonbot.observability import MetricName, logger, mask_phone, metrics
from salonbot.privacy.customer_items import CustomerRef

if TYPE_CHECKING:
    import uuid

    from salonbot.db.connection import Connection
    from salonbot.privacy.customer_items import CustomerItems


@dataclass
class ErasureReport:
    salon_id: str
    phone: str  # masked
    postgresql: dict[str, int] = field(default_factory=dict)  # rows, per table and effect
    dynamodb: dict[str, int] = field(default_factory=dict)  # items, per kind
    not_configured: list[str] = field(default_factory=list)  # DynamoDB kinds not reached

    @property
    def total(self) -> int:
        return sum(self.postgresql.values()) + sum(self.dynamodb.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "salon_id": self.salon_id,
            "phone": self.phone,
            "postgresql": dict(self.postgresql),
            "dynamodb": dict(self.dynamodb),
            "not_configured": list(self.not_configured),
        }


def forget_customer(
    conn: Connection,
    salon_id: uuid.UUID | str,
    phone: str,
    *,
    items: CustomerItems | None = None,
    now: dt.datetime | None = None,
) -> ErasureReport:
    """Remove or anonymise the customer `phone` of `salon_id`; what went, per store.
    UnknownSalon when there is no such salon; ErasureFailed (nothing committed) when
    DynamoDB refused."""
    phone = normalize_phone(phone)
    now = now or dt.datetime.now(dt.UTC)
    conversation = conversation_id(salon_id, phone)
    forms = [phone, phone.lstrip("+")]
    p: dict[str, Any] = {"salon": str(salon_id), "forms": forms, "conv": conversation, "now": now}
    report = ErasureReport(salon_id=str(salon_id), phone=mask_phone(phone))
    counts = report.postgresql
    conn.commit()  # our own transaction, never a caller's
    with conn.transaction():
        salon_row = conn.execute(
            "SELECT whatsapp_phone_number_id FROM salons WHERE id = %(salon)s", p
        ).fetchone()
        if salon_row is None:
            raise UnknownSalon(f"no salon {salon_id}")
        ledger = conn.execute(_LEDGER_ROWS, p).fetchall()
        message_ids = {r["message_id"] for r in ledger}
        message_ids |= _column(conn, _MESSAGE_EXTERNAL_IDS, p)
        message_ids |= _column(conn, _KEPT_IDS, p)
        clients = [r["id"] for r in conn.execute(_CLIENTS, p).fetchall()]
        p["clients"] = clients
        message_ids |= _column(conn, _BOOKING_SOURCE_IDS, p)
        p["ours"] = sorted(_reply_ids(ledger))
        p["theirs"] = sorted(_reply_ids(conn.execute(_OTHER_SALONS_REPLIES, p).fetchall()))

        counts["message_statuses"] = conn.execute(_DELETE_STATUSES, p).rowcount
        counts["inbound_messages"] = conn.execute(_DELETE_LEDGER, p).rowcount
        counts["ai_messages"] = conn.execute(_DELETE_MESSAGES, p).rowcount
        counts["ai_conversations"] = conn.execute(_DELETE_CONVERSATIONS, p).rowcount
        counts["kept_messages"] = conn.execute(_DELETE_KEPT, p).rowcount
        counts["outbound_messages"] = conn.execute(_DELETE_OUTBOUND, p).rowcount
        counts["opt_outs"] = conn.execute(_DELETE_OPT_OUTS, p).rowcount
        counts["waitlist"] = conn.execute(_DELETE_WAITLIST, p).rowcount
        counts["bookings_cancelled"] = conn.execute(_CANCEL_FUTURE_BOOKINGS, p).rowcount
        counts["bookings_anonymised"] = conn.execute(_ANONYMISE_BOOKINGS, p).rowcount
        counts["clients_deleted"] = conn.execute(_DELETE_UNBOOKED_CLIENTS, p).rowcount
        counts["clients_anonymised"] = conn.execute(_ANONYMISE_CLIENTS, p).rowcount

        if items is not None:
            customer = CustomerRef(
                str(salon_id),
                phone,
                tuple(sorted(message_ids)),
                phone_number_id=salon_row["whatsapp_phone_number_id"],
            )
            report.dynamodb = items.erase(customer)
            report.not_configured = items.not_configured
    metrics.add_metric(name=MetricName.CUSTOMERS_FORGOTTEN, unit=MetricUnit.Count, value=1)
    logger.info("customer forgotten", extra=report.as_dict())
    return report


def _column(conn: Connection, sql: str, params: dict[str, Any]) -> set[str]:
    return {r["id"] for r in conn.execute(sql, params).fetchall() if r["id"]}


def _reply_ids(rows: list[dict[str, Any]]) -> set[str]:
    """The wamids WhatsApp gave our replies: the last one, and each reply item's."""
    ids = {r["reply_message_id"] for r in rows if r["reply_message_id"]}
    for row in rows:
        for item in row["reply"] or ():
            if isinstance(item, dict) and item.get("id"):
                ids.add(str(item["id"]))
    return ids


# Reminders sent to the customer (about their bookings) and their opt-out of the salon's
# messages.
_DELETE_OUTBOUND = """
DELETE FROM outbound_messages
 WHERE booking_id IN (SELECT id FROM bookings WHERE client_id = ANY(%(clients)s))
"""
_DELETE_OPT_OUTS = """
DELETE FROM opt_outs WHERE salon_id = %(salon)s AND phone = ANY(%(forms)s)
"""
_DELETE_WAITLIST = """
DELETE FROM waitlist WHERE salon_id = %(salon)s AND phone = ANY(%(forms)s)
"""

_LEDGER_ROWS = """
SELECT message_id, reply_message_id, reply FROM inbound_messages
WHERE salon_id = %(salon)s
  AND (phone_number = ANY(%(forms)s) OR conversation_id = %(conv)s)
FOR UPDATE
"""

_MESSAGE_EXTERNAL_IDS = """
SELECT external_id AS id FROM ai_messages
WHERE conversation_id = %(conv)s AND external_id IS NOT NULL
"""

# Kept for the salon's staff, or kept with no salon for the number the salon now has.
_KEPT = """
FROM kept_messages
WHERE phone_number = ANY(%(forms)s)
  AND (salon_id = %(salon)s
       OR (salon_id IS NULL AND phone_number_id =
           (SELECT whatsapp_phone_number_id FROM salons WHERE id = %(salon)s)))
"""

_KEPT_IDS = "SELECT message_id AS id " + _KEPT

_DELETE_KEPT = "DELETE " + _KEPT

_CLIENTS = """
SELECT id FROM clients WHERE salon_id = %(salon)s AND phone = ANY(%(forms)s) FOR UPDATE
"""

_BOOKING_SOURCE_IDS = """
SELECT source_message_id AS id FROM bookings
WHERE client_id = ANY(%(clients)s) AND source_message_id IS NOT NULL
"""

_OTHER_SALONS_REPLIES = """
SELECT reply_message_id, reply FROM inbound_messages
WHERE salon_id <> %(salon)s AND phone_number = ANY(%(forms)s)
"""

# Statuses of our replies to the phone, and the phone's statuses no other salon's ledger
# claims (the ledger row is gone, or the status came without one).
_DELETE_STATUSES = """
DELETE FROM message_statuses
WHERE message_id = ANY(%(ours)s)
   OR ((recipient = ANY(%(forms)s) OR recipient_user_id = ANY(%(forms)s))
       AND NOT message_id = ANY(%(theirs)s))
"""

_DELETE_LEDGER = """
DELETE FROM inbound_messages
WHERE salon_id = %(salon)s
  AND (phone_number = ANY(%(forms)s) OR conversation_id = %(conv)s)
"""

_DELETE_MESSAGES = "DELETE FROM ai_messages WHERE conversation_id = %(conv)s"

_DELETE_CONVERSATIONS = """
DELETE FROM ai_conversations
WHERE id = %(conv)s OR (salon_id = %(salon)s AND phone_number = ANY(%(forms)s))
"""

_CANCEL_FUTURE_BOOKINGS = """
UPDATE bookings SET status = 'cancelled', cancelled_at = %(now)s, updated_at = now()
WHERE client_id = ANY(%(clients)s) AND status = 'confirmed' AND starts_at > %(now)s
"""

# Every booking of the client is kept, for the salon's figures, without its message id.
_ANONYMISE_BOOKINGS = """
UPDATE bookings SET source_message_id = NULL WHERE client_id = ANY(%(clients)s)
"""

_DELETE_UNBOOKED_CLIENTS = """
DELETE FROM clients c
WHERE c.id = ANY(%(clients)s)
  AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.client_id = c.id)
"""

_ANONYMISE_CLIENTS = """
UPDATE clients SET phone = NULL, name = NULL, language = NULL, anonymised_at = %(now)s
WHERE id = ANY(%(clients)s)
"""
