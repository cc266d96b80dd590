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
from typing import TYPE_CHECKING, Any

import psycopg
from aws_lambda_powertools.metrics import MetricUnit

from salonbot.assistant.throttle import throttle_from_settings
from salonbot.booking.catalog import load_salon_by_phone_number_id
from salonbot.db.connection import autocommit, get_connection, reset_connection
from salonbot.errors import UnknownSalon
from salonbot.observability import MetricName, count_error, logger, metrics
from salonbot.outbound import window
from salonbot.processing import events, kept, ledger, replies
from salonbot.processing.turn import ConversationTurn
from salonbot.whatsapp.events import InboundMessage, StaffEcho, TemplateStatus
from salonbot.whatsapp.outgoing import to_payload

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.assistant.base import Assistant
    from salonbot.assistant.throttle import CustomerThrottle
    from salonbot.assistant.transcription import Transcript, VoiceNotes
    from salonbot.booking.catalog import Salon
    from salonbot.config import Settings
    from salonbot.db.connection import Connection
    from salonbot.processing.bursts import BurstWatch
    from salonbot.processing.staff import StaffNotifier
    from salonbot.whatsapp.client import WhatsAppClient
    from salonbot.whatsapp.events import QueueEnvelope, StatusUpdate
    from salonbot.whatsapp.media import MediaDownloader
    from salonbot.whatsapp.read_receipts import ReadReceipts


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
        receipts: ReadReceipts | None = None,
        voice_notes: VoiceNotes | None = None,
        bursts: BurstWatch | None = None,
        photos: MediaDownloader | None = None,
    ) -> None:
        """`receipts`: read receipts and typing (none: not sent); `voice_notes`: the
        transcriber (none: voice notes get the "please write" answer); `bursts`: the
        record of each customer's latest message (none: every message answered alone);
        `photos`: a vision model's downloads (none: photos go to the staff)."""
        self._settings = settings
        self._whatsapp = whatsapp
        self._connection = connection or get_connection
        self._clock = clock
        self._receipts = receipts
        self._voice_notes = voice_notes
        self._bursts = bursts
        self._photos = photos
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
                if isinstance(event, TemplateStatus):
                    return self._template_status(conn, event)
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
        request = events.is_request(message)
        with conn.transaction():
            claimed = ledger.claim(
                conn,
                message_id=message.message_id,
                salon_id=salon.id,
                phone=message.phone,
                received_at=message.timestamp,
            )
            if claimed and not request:
                self._mark_read(message, typing=False)
                conversation_id = events.record(conn, salon, message, self._now())
                saved = ledger.save_reply(
                    conn, message.message_id, conversation_id, [], phone=message.phone
                )
            elif claimed:
                self._mark_read(message, typing=True)
                hold = self._bursts is not None and self._bursts.later_arrived(conn, message)
                prepared, transcript = self._prepared(conn, salon, message)
                outcome = self._turn.run(conn, salon, prepared, hold=hold, transcript=transcript)
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
        if not window.is_open(message.timestamp, self._now()):
            # WhatsApp would refuse a free-form reply now (131047): none is attempted.
            return self._outside_window(conn, message.message_id, saved)
        # A reply committed just now is sent as saved, not read back (one round trip less).
        status = replies.deliver(
            conn, self._whatsapp, message.message_id, message.phone_number_id, saved=saved
        )
        return {ledger.SENT: REPLIED, "none": NO_REPLY}.get(status, REPLY_FAILED)

    def _outside_window(
        self, conn: Connection, message_id: str, saved: ledger.PendingReply | None
    ) -> str:
        reply = saved if saved is not None else ledger.pending_reply(conn, message_id)
        if reply is None or reply.status in (ledger.SENT, ledger.FAILED, "none"):
            return {ledger.SENT: REPLIED, "none": NO_REPLY}.get(
                reply.status if reply else "none", REPLY_FAILED
            )
        for index, item in enumerate(reply.items):
            if item.get("state") == ledger.PENDING:
                ledger.mark_item(
                    conn,
                    message_id,
                    index,
                    ledger.FAILED,
                    expect=ledger.PENDING,
                    error="the customer's 24-hour window has closed: reply not sent",
                    overall=ledger.FAILED,
                )
        count_error("reply_outside_window")
        logger.warning("reply not sent: the customer's 24-hour window has closed")
        return REPLY_FAILED

    def _template_status(self, conn: Connection, event: TemplateStatus) -> str:
        """Meta's verdict on a template, for the salons whose business account holds it."""
        from salonbot.outbound.templates import record_status

        updated = record_status(
            conn,
            name=event.name,
            language=event.language,
            meta_status=event.event,
            reason=event.reason,
            meta_template_id=event.template_id,
            waba_id=event.waba_id,
        )
        logger.info(
            "template status",
            extra={"template": event.name, "event": event.event, "updated": updated},
        )
        return STATUS

    def _prepared(
        self, conn: Connection, salon: Salon, message: InboundMessage
    ) -> tuple[InboundMessage, Transcript | None]:
        """The message with what the turn reads beside it: the text of our message it
        quotes, and a voice note's transcript (stored as its text, its cost with it)."""
        update: dict[str, Any] = {}
        transcript: Transcript | None = None
        if message.reply_to_message_id is not None:
            quoted = ledger.sent_text(conn, salon.id, message.reply_to_message_id)
            if quoted:
                update["quoted_text"] = quoted
        if message.type == "audio" and not message.text and self._voice_notes is not None:
            transcript = self._voice_notes.transcribe(salon, message, message.phone_number_id)
            if transcript is not None:
                update["text"] = transcript.text
        if message.type == "image" and self._photos is not None:
            update["image_data_url"] = self._photo(message)
        return (message.model_copy(update=update) if update else message), transcript

    def _photo(self, message: InboundMessage) -> str | None:
        """The photo as a data URL for the vision model (None: the staff will see it)."""
        from salonbot.assistant.vision import data_url
        from salonbot.whatsapp.media import MediaUnavailable

        media_id, _ = message.media
        if media_id is None or self._photos is None:
            return None
        try:
            media = self._photos.download(message.phone_number_id, media_id)
        except MediaUnavailable as exc:
            count_error("photo_download")
            logger.warning("photo not downloaded", extra={"error": str(exc)})
            return None
        return data_url(media.data, media.mime_type)

    def _mark_read(self, message: InboundMessage, *, typing: bool) -> None:
        """Best effort, in the background: never waits for WhatsApp, never fails the turn."""
        if self._receipts is None:
            return
        try:
            self._receipts.mark_read(message.phone_number_id, message.message_id, typing=typing)
        except Exception:
            count_error("read_receipt")
            logger.info("read receipt not queued", exc_info=True)

    def _now(self) -> dt.datetime:
        return self._clock() if self._clock is not None else dt.datetime.now(dt.UTC)

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
            recipient_user_id=status.recipient_user_id,
            error_code=status.error_code,
            error_title=status.error_title,
            occurred_at=status.timestamp,
        )
        if status.pricing_category:
            from salonbot.cost.message_costs import reprice

            reprice(
                conn,
                wamid=status.message_id,
                phone_number_id=status.phone_number_id,
                recipient=status.recipient_id,
                category=status.pricing_category,
                pricing_type=status.pricing_type,
            )
        if recorded and status.status == "failed":
            count_error("delivery_failed")
            logger.warning(
                "WhatsApp could not deliver a reply",
                extra={"code": status.error_code, "title": status.error_title},
            )
        return STATUS
