"""The processor: one queue event (a customer message or a delivery status) at a time.

A customer message is idempotent per WhatsApp message id. In ONE transaction: claim the
id in `inbound_messages` (a redelivery finds it claimed and skips to the reply), run the
conversation turn (the engine's bookings included) and save the reply to send. After
commit, the reply is sent with a resumable send state (see `replies`). So a redelivery
after a crash before commit redoes the turn from scratch (the model may be asked again;
the rolled-back booking was never made), and after commit it never books or answers
twice.

A message that no engine should answer, too old when the webhook received it or for a
WhatsApp number no salon has, is kept for the staff (`kept`) and counted, not dropped."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import psycopg
from aws_lambda_powertools.metrics import MetricUnit

from salonbot.assistant.throttle import throttle_from_settings
from salonbot.booking.catalog import load_salon_by_phone_number_id
from salonbot.db.connection import autocommit, get_connection, reset_connection
from salonbot.errors import UnknownSalon
from salonbot.observability import MetricName, count_error, logger, metrics
from salonbot.processing import kept, ledger, replies
from salonbot.processing.turn import ConversationTurn
from salonbot.whatsapp.events import InboundMessage, StaffEcho
from salonbot.whatsapp.outgoing import to_payload

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.assistant.base import Assistant
    from salonbot.assistant.throttle import CustomerThrottle
    from salonbot.config import Settings
    from salonbot.db.connection import Connection
    from salonbot.processing.staff import StaffNotifier
    from salonbot.whatsapp.client import WhatsAppClient
    from salonbot.whatsapp.events import QueueEnvelope, StatusUpdate

# What became of one queue event (logged; tests and benchmarks read it).
REPLIED, NO_REPLY, REPLY_FAILED, DROPPED, KEPT, STATUS = (
    "replied",
    "no_reply",
    "reply_failed",
    "dropped",
    "kept",
    "status",
)
STAFF_ECHO = "staff_echo"


class MessageProcessor:
    def __init__(
        self,
        settings: Settings,
        *,
        assistant: Assistant,
        whatsapp: WhatsAppClient,
        staff: StaffNotifier,
        connection: Callable[[], Connection] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        throttle: CustomerThrottle | None = None,
    ) -> None:
        self._settings = settings
        self._whatsapp = whatsapp
        self._connection = connection or get_connection
        # Per-customer limit (RATE_LIMIT_TABLE): counted only for a message claimed for
        # the first time, idempotently per message id, before the assistant runs or the
        # staff are notified.
        self._turn = ConversationTurn(
            settings,
            assistant=assistant,
            staff=staff,
            clock=clock,
            throttle=throttle or throttle_from_settings(settings),
        )

    def process(self, envelope: QueueEnvelope) -> str:
        event = envelope.event
        logger.append_keys(message_id=event.message_id)
        conn = self._connection()
        try:
            with autocommit(conn):
                if isinstance(event, InboundMessage):
                    return self._message(conn, event, stale=envelope.stale)
                if isinstance(event, StaffEcho):
                    return self._staff_echo(conn, event)
                return self._status(conn, event)
        except psycopg.OperationalError:
            if conn.broken or conn.closed:
                reset_connection()
            raise

    def _message(self, conn: Connection, message: InboundMessage, *, stale: bool) -> str:
        metrics.add_metric(name=MetricName.MESSAGES_RECEIVED, unit=MetricUnit.Count, value=1)
        try:
            salon = load_salon_by_phone_number_id(conn, message.phone_number_id)
        except UnknownSalon:
            # Retrying cannot help: no salon uses this number (yet). Kept for the staff
            # of the salon that will, counted.
            count_error("unknown_salon")
            kept.keep(conn, message, kept.UNKNOWN_NUMBER, salon_id=None)
            return KEPT
        if stale:
            kept.keep(conn, message, kept.STALE, salon_id=salon.id)
            return KEPT
        saved: ledger.PendingReply | None = None
        with conn.transaction():
            claimed = ledger.claim(
                conn,
                message_id=message.message_id,
                salon_id=salon.id,
                phone=message.phone,
                received_at=message.timestamp,
            )
            if claimed:
                # The decoded queue message goes on to the engines as it is.
                outcome = self._turn.run(conn, salon, message)
                payloads = (
                    [to_payload(m, message.phone) for m in outcome.result.messages]
                    if outcome.result is not None
                    else []
                )
                saved = ledger.save_reply(
                    conn, message.message_id, outcome.conversation.id, payloads, phone=message.phone
                )
        if not claimed:
            logger.info("message seen before: resuming its reply")
        # A reply committed just now is sent as saved, not read back (one round trip less).
        status = replies.deliver(
            conn, self._whatsapp, message.message_id, message.phone_number_id, saved=saved
        )
        return {ledger.SENT: REPLIED, "none": NO_REPLY}.get(status, REPLY_FAILED)

    def _staff_echo(self, conn: Connection, echo: StaffEcho) -> str:
        """Staff answered from the WhatsApp Business app: kept in the conversation, and
        the bot paused there (`salonbot.staff.echoes`)."""
        from salonbot.staff.echoes import record_echo

        try:
            salon = load_salon_by_phone_number_id(conn, echo.phone_number_id)
        except UnknownSalon:
            count_error("unknown_salon")
            return STAFF_ECHO
        pause = dt.timedelta(hours=self._settings.staff_pause_hours)
        record_echo(conn, salon, echo, pause=pause)
        return STAFF_ECHO

    def _status(self, conn: Connection, status: StatusUpdate) -> str:
        recorded = ledger.record_status(
            conn,
            message_id=status.message_id,
            status=status.status,
            recipient=status.recipient_id,
            error_code=status.error_code,
            error_title=status.error_title,
            occurred_at=status.timestamp,
        )
        if recorded and status.status == "failed":
            count_error("delivery_failed")
            logger.warning(
                "WhatsApp could not deliver a reply",
                extra={"code": status.error_code, "title": status.error_title},
            )
        return STATUS
