"""Sending a committed reply, resumable after a crash at any point.

Each outgoing message is marked `sending` (committed) before its HTTP request and `sent`
with its wamid after. A redelivered message finds its items in one of those states:
`sent` ones are skipped, `pending` ones are sent, and a `sending` one means the previous
attempt died mid-send: it may have reached the customer, so it is not sent again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.cost import whatsapp_rates
from salonbot.observability import MetricName, count_error, logger, metrics
from salonbot.processing import ledger
from salonbot.whatsapp.client import SendOutcomeUnknown, SendRejected, SendRetryable

if TYPE_CHECKING:
    from salonbot.db.connection import Connection
    from salonbot.whatsapp.client import WhatsAppClient


def reply_cost(phone: str) -> ledger.MessageCost:
    """A reply is a non-template (service) message inside the customer's window."""
    category = whatsapp_rates.SERVICE
    return ledger.MessageCost(
        category, whatsapp_rates.market_of(phone), whatsapp_rates.price(category, phone)
    )


class ReplyNotSent(Exception):
    """The reply could not be sent now but may be later: the queue message is retried."""


def deliver(
    conn: Connection,
    client: WhatsAppClient,
    message_id: str,
    phone_number_id: str,
    *,
    saved: ledger.PendingReply | None = None,
) -> str:
    """Send what is left of the message's reply; the resulting `reply_status`.

    `saved` is the reply this process has just committed (`ledger.save_reply`), which
    then is not read back; without it (a redelivery) the ledger is read. Every state
    change is still a compare-and-set on the ledger row. Expects an autocommit
    connection: every state change is committed on its own."""
    reply = saved if saved is not None else ledger.pending_reply(conn, message_id)
    if reply is None or reply.status in (ledger.SENT, ledger.FAILED, "none"):
        return reply.status if reply else "none"
    last = len(reply.items) - 1
    for index, item in enumerate(reply.items):
        state = item.get("state")
        if state == ledger.SENT:
            continue
        if state != ledger.PENDING:
            if state == ledger.SENDING:
                # Interrupted mid-send (crash, timeout): it may have arrived. At most once.
                ledger.mark_item(
                    conn,
                    message_id,
                    index,
                    ledger.UNKNOWN,
                    expect=ledger.SENDING,
                    error="send interrupted; not repeated",
                    overall=ledger.FAILED,
                )
                count_error("reply_unknown")
                logger.error("reply send was interrupted; not sending it again")
            return ledger.FAILED
        if not ledger.mark_item(conn, message_id, index, ledger.SENDING, expect=ledger.PENDING):
            return ledger.FAILED  # another delivery of the same message took it
        try:
            wamid = client.send_payload(phone_number_id, item["payload"])
        except SendRetryable as exc:
            ledger.mark_item(
                conn, message_id, index, ledger.PENDING, expect=ledger.SENDING, error=str(exc)
            )
            count_error("reply_send")
            raise ReplyNotSent(str(exc)) from exc
        except SendRejected as exc:
            ledger.mark_item(
                conn,
                message_id,
                index,
                ledger.FAILED,
                expect=ledger.SENDING,
                error=str(exc),
                overall=ledger.FAILED,
            )
            count_error("reply_rejected")
            return ledger.FAILED
        except SendOutcomeUnknown as exc:
            ledger.mark_item(
                conn,
                message_id,
                index,
                ledger.UNKNOWN,
                expect=ledger.SENDING,
                error=str(exc),
                overall=ledger.FAILED,
            )
            count_error("reply_unknown")
            return ledger.FAILED
        ledger.mark_item(
            conn,
            message_id,
            index,
            ledger.SENT,
            expect=ledger.SENDING,
            wamid=wamid,
            overall=ledger.SENT if index == last else None,
            cost=reply_cost(reply.phone_number),
        )
        metrics.add_metric(name=MetricName.REPLIES_SENT, unit=MetricUnit.Count, value=1)
    return ledger.SENT
