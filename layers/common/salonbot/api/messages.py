"""`POST /api/v1/ai/process-message`: one synchronous turn of the same assistant the
queue processor runs (router, conversation memory, cost guard, fallback, per-customer
throttle), for the salon's backend and for testing.

The conversation is the customer's one conversation with the salon,
`conv_<salon id>_<phone digits>`, shared with WhatsApp: a `conversation_id` sent by the
caller (the deployment guide's sample sends `test_conv_001`) is accepted and logged, and
the answer names the conversation the turn was stored in. Options render as numbered
text (no WhatsApp interactive lists over HTTP). With an `Idempotency-Key` the turn is
claimed in the processing ledger and a retry gets the first answer (`idempotency`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import psycopg

from salonbot.api import idempotency
from salonbot.assistant.throttle import ThrottledResult, throttle_from_settings
from salonbot.booking.catalog import load_salon
from salonbot.db.connection import autocommit, get_connection, reset_connection
from salonbot.observability import logger, mask_conversation_id, mask_phone
from salonbot.processing.turn import ConversationTurn, reply_text
from salonbot.whatsapp.events import CustomerMessage

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from salonbot.assistant.base import Assistant
    from salonbot.assistant.throttle import CustomerThrottle
    from salonbot.config import Settings
    from salonbot.db.connection import Connection
    from salonbot.processing.staff import StaffNotifier
    from salonbot.processing.turn import TurnOutcome


@dataclass(frozen=True)
class ProcessedMessage:
    conversation_id: str
    response: str | None  # None: left for the salon's staff, or throttled silently
    handled_by: Literal["assistant", "staff", "throttle"]
    engine: str | None
    tokens_used: int = 0
    cost: Decimal = Decimal(0)
    response_time_ms: int = 0
    model: str | None = None
    booking_code: str | None = None
    throttled: bool = False
    retry_after_s: int | None = None
    replayed: bool = False  # the answer an earlier request with this Idempotency-Key got


class _Unremembered(Exception):
    """Rolls back a keyed turn whose answer must not be kept (see `idempotency`)."""

    def __init__(self, done: ProcessedMessage) -> None:
        super().__init__("answer not remembered")
        self.done = done


class MessageService:
    def __init__(
        self,
        settings: Settings,
        *,
        assistant: Assistant,
        staff: StaffNotifier,
        connection: Callable[[], Connection] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        throttle: CustomerThrottle | None = None,
    ) -> None:
        self._connection = connection or get_connection
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._turn = ConversationTurn(
            settings,
            assistant=assistant,
            staff=staff,
            clock=clock,
            throttle=throttle or throttle_from_settings(settings),
        )

    def process(
        self,
        salon_id: uuid.UUID,
        phone: str,
        text: str,
        *,
        conversation_id: str | None = None,
        contact_name: str | None = None,
        idempotency_key: str | None = None,
    ) -> ProcessedMessage:
        """`phone` is E.164 and `text` what the customer typed (the request model cleaned
        it). Raises `UnknownSalon` for a salon that does not exist, `InvalidInput` for an
        idempotency key used before for a different request, and `RequestInProgress`
        while the request first sent with the key is still running."""
        # (message id, request fingerprint) of a keyed request
        keyed: tuple[str, str] | None = None
        if idempotency_key is not None:
            keyed = (
                idempotency.message_id(salon_id, idempotency.normalize_key(idempotency_key)),
                idempotency.fingerprint(
                    phone_number=phone,
                    message=text,
                    conversation_id=conversation_id,
                    contact_name=contact_name,
                ),
            )
        conn = self._connection()
        try:
            with autocommit(conn):
                salon = load_salon(conn, salon_id)
                try:
                    with conn.transaction():
                        if keyed is not None and not idempotency.claim(
                            conn,
                            keyed[0],
                            salon_id=salon.id,
                            phone=phone,
                            received_at=self._clock(),
                        ):
                            logger.info("Idempotency-Key seen before: first answer replayed")
                            done = idempotency.recall(conn, keyed[0], request=keyed[1])
                            return replace(done, replayed=True)
                        message = CustomerMessage(
                            message_id=keyed[0] if keyed else None,
                            wa_id=phone.removeprefix("+"),
                            timestamp=self._clock(),
                            text=text,
                            contact_name=contact_name,
                        )
                        outcome = self._turn.run(conn, salon, message, interactive_supported=False)
                        done = _processed(outcome, phone)
                        if keyed is not None:
                            if done.throttled and done.response is None:
                                raise _Unremembered(done)
                            idempotency.remember(conn, keyed[0], done, request=keyed[1])
                except _Unremembered as unremembered:
                    done = unremembered.done
        except psycopg.OperationalError:
            if conn.broken or conn.closed:
                reset_connection()
            raise
        if conversation_id and conversation_id != done.conversation_id:
            logger.info(
                "caller's conversation id differs: the customer's conversation is used",
                extra={"client_conversation_id": mask_conversation_id(conversation_id[:100])},
            )
        return done


def _processed(outcome: TurnOutcome, phone: str) -> ProcessedMessage:
    result = outcome.result
    if result is None:
        logger.info("message left for staff", extra={"phone": mask_phone(phone)})
        return ProcessedMessage(outcome.conversation.id, None, "staff", None)
    if result.engine == "handoff":
        # With staff: the customer was only told that the staff will answer.
        return ProcessedMessage(outcome.conversation.id, reply_text(result), "staff", "handoff")
    if isinstance(result, ThrottledResult):
        return ProcessedMessage(
            outcome.conversation.id,
            reply_text(result) if result.messages else None,
            "throttle",
            result.engine,
            throttled=True,
            retry_after_s=result.decision.retry_after_s,
        )
    return ProcessedMessage(
        conversation_id=outcome.conversation.id,
        response=reply_text(result),
        handled_by="assistant",
        engine=result.engine,
        tokens_used=result.tokens_used,
        cost=result.cost,
        response_time_ms=outcome.response_time_ms,
        model=result.model,
        booking_code=result.booking_code,
    )
