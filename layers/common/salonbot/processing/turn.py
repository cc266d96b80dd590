"""One customer message through the conversation: the part the queue processor and the
HTTP API share. Runs inside the caller's transaction.

AI off for the salon, or the conversation with staff: the message is stored for the
staff and no engine answers. It counts against the customer's throttle like any message:
within the limit the staff are notified (collapsed per conversation, see `staff`; best
effort: a failed notification never loses the stored message); the first message over it
gets the throttle's notice, later ones nothing, and neither notifies (the next
notification counts them). A handed-off customer is never met with silence: the message
gets the hand-off's notice when one is due (`conversation.handoff`), and "меню"/"бот"/
"menu" ends the hand-off and is answered by the assistant. Otherwise the (throttled)
router's engine answers, and the customer's message and the reply are stored together
(one round trip) with the reply's tokens, cost, model, response time, booking code, tool
calls, hand-off and notes. A photo the customer asks about is handed to the staff, or
answered by a vision model (`images`). In a salon running a model experiment the
conversation gets its arm first (kept on it once given) and both rows record it."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.assistant.base import TurnInput, TurnResult
from salonbot.assistant.language import detect_language
from salonbot.assistant.parsing import returns_to_bot
from salonbot.assistant.throttle import screen, with_throttle
from salonbot.conversation import handoff
from salonbot.conversation import store as conversations
from salonbot.experiment import arm_for
from salonbot.observability import (
    MetricName,
    correlation_ids,
    count_error,
    logger,
    mask_phone,
    metrics,
)
from salonbot.outbound import opt_out
from salonbot.outbound.buttons import WithReminderButtons, guided_engine
from salonbot.processing import images
from salonbot.processing import staff as staff_notices
from salonbot.texts import phrases
from salonbot.whatsapp.events import InboundMessage
from salonbot.whatsapp.outgoing import TextMessage, to_plain_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.assistant.base import Assistant
    from salonbot.assistant.throttle import CustomerThrottle
    from salonbot.assistant.transcription import Transcript
    from salonbot.booking.catalog import Salon
    from salonbot.config import Settings
    from salonbot.db.connection import Connection
    from salonbot.processing.staff import StaffNotifier
    from salonbot.whatsapp.events import CustomerMessage


@dataclass(frozen=True)
class TurnOutcome:
    conversation: conversations.Conversation
    result: TurnResult | None  # None: left for the staff
    response_time_ms: int


def reply_text(result: TurnResult) -> str:
    return "\n\n".join(to_plain_text(m) for m in result.messages)


class ConversationTurn:
    def __init__(
        self,
        settings: Settings,
        *,
        assistant: Assistant,
        staff: StaffNotifier,
        clock: Callable[[], dt.datetime] | None = None,
        throttle: CustomerThrottle | None = None,
    ) -> None:
        """`throttle`: the per-customer limit (RATE_LIMIT_TABLE), around the assistant
        and before any staff notification."""
        self._settings = settings
        self._throttle = throttle
        self._staff = staff
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        # Reminder buttons and ratings are answered before any engine; a move goes to the
        # guided flow, a low rating to the staff.
        buttons = WithReminderButtons(assistant, guided_engine(assistant), staff, self._clock)
        self._assistant = with_throttle(buttons, throttle)

    def run(
        self,
        conn: Connection,
        salon: Salon,
        message: CustomerMessage,
        *,
        interactive_supported: bool = True,
        hold: bool = False,
        transcript: Transcript | None = None,
    ) -> TurnOutcome:
        """`message` arrives clean (decoding it cleaned its texts) and is handed to the
        engine as it is; `interactive_supported` is False where options must be numbered
        text (the HTTP API). `hold`: a later message of the customer has already arrived,
        so this one is stored without a reply and that message's turn answers both
        (the burst's held texts come first in its input). `transcript`: the voice note's
        transcription, whose cost and model are stored with the customer's message."""
        # Only the customer's own words say which language they speak: a tap's title is
        # ours (a master's name may be Cyrillic in an English chat), `[audio]` a placeholder.
        spoken = (detect_language(message.said, "") or None) if message.in_own_words else None
        now = self._clock()
        conversation = conversations.open_conversation(
            conn,
            salon.id,
            message.phone,
            language=spoken,
            now=now,
            # Only a WhatsApp message opens WhatsApp's window, not an API request.
            inbound_at=message.timestamp if isinstance(message, InboundMessage) else None,
        )
        if conversation.created:
            metrics.add_metric(
                name=MetricName.CONVERSATIONS_STARTED, unit=MetricUnit.Count, value=1
            )
        logger.append_keys(**correlation_ids(conversation_id=conversation.id))
        arm = None
        experiment = salon.model_experiment
        if experiment is not None and salon.ai_enabled:
            arm = arm_for(experiment, conversation.id, conversation.experiment_arm)
            if arm.id != conversation.experiment_arm:
                conversations.assign_arm(conn, conversation.id, arm.id)
        if message.referral is not None:
            conversations.record_referral(conn, conversation.id, message.referral, at=now)
        user = conversations.NewMessage(
            role="user",
            content=message.said,
            message_type=message.type,
            external_id=message.message_id,
            experiment_arm=arm.id if arm else None,
            reply_to_message_id=message.reply_to_message_id,
            held=hold,
        )
        if transcript is not None:
            user.cost, user.model = transcript.cost, transcript.model
        images.describe(user, message)
        photo = images.asked_about(conn, conversation.id, message)
        if hold:
            conversations.append_messages(conn, conversation, [user])
            metrics.add_metric(name=MetricName.BURST_MESSAGES_HELD, unit=MetricUnit.Count, value=1)
            return TurnOutcome(conversation, None, 0)
        earlier = conversations.take_held(conn, conversation.id) if conversation.has_held else []
        if earlier:
            message = message.model_copy(update={"earlier": tuple(earlier)})
        turn = TurnInput(
            salon=salon,
            conversation_id=conversation.id,
            message=message,
            interactive_supported=interactive_supported,
            conversation_language=conversation.language,
            guided_state=conversation.state,
            experiment_arm=arm,
        )
        # An opt-out word wins in every state, a hand-off to staff included.
        opted = opt_out.respond(conn, turn)
        if opted is not None:
            reply = conversations.NewMessage(
                role="assistant", content=reply_text(opted), message_type="text"
            )
            conversations.append_messages(conn, conversation, [user, reply])
            return TurnOutcome(conversation, opted, 0)
        if not salon.ai_enabled:
            return self._leave_for_staff(conn, turn, conversation, user, now)
        if conversation.handed_off(now):
            if not (message.in_own_words and returns_to_bot(message.said)):
                return self._leave_for_staff(conn, turn, conversation, user, now)
            handoff.end(conn, conversation.id)

        started = time.perf_counter()
        if photo:
            result = images.answer(conn, turn, self._assistant)
        else:
            result = self._assistant.respond(conn, turn)
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        reply = conversations.NewMessage(
            role="assistant",
            content=reply_text(result),
            message_type=result.messages[0].type if result.messages else "text",
            tool_calls=result.tool_calls or None,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cached_tokens=result.cached_tokens,
            cost=result.cost,
            response_time_ms=elapsed_ms,
            model=result.model,
            booking_code=result.booking_code,
            experiment_arm=arm.id if arm else None,
            handoff=result.handoff,
            notes=result.notes or None,
        )
        conversations.append_messages(
            conn, conversation, [user, reply] if result.messages else [user]
        )
        self._hand_unconfirmed(conn, turn)
        if result.handoff:
            until = now + dt.timedelta(minutes=self._settings.handoff_minutes)
            handoff.start(conn, conversation.id, until=until)
            # The hand-off itself is news: notified at once, whatever the interval.
            self._notify_staff(conn, turn, conversation, "handoff", now, force=True)
        self._count(result, conversation, elapsed_ms)
        return TurnOutcome(conversation, result, elapsed_ms)

    def _leave_for_staff(
        self,
        conn: Connection,
        turn: TurnInput,
        conversation: conversations.Conversation,
        user: conversations.NewMessage,
        now: dt.datetime,
    ) -> TurnOutcome:
        """Stored for the staff. Within the customer's limit the staff are notified (or
        the message is counted for the next notification) and a handed-off customer gets
        the hand-off's notice when one is due; over it, the throttle's notice (stored as
        the reply) or nothing, and no notification."""
        reason = "ai_disabled" if not turn.salon.ai_enabled else "with_staff"
        answer: TurnResult | None = screen(self._throttle, turn)
        if answer is None and reason == "with_staff":
            answer = self._handoff_notice(conn, turn, conversation, now)
        stored = [user]
        if answer is not None and answer.messages:
            stored.append(
                conversations.NewMessage(
                    role="assistant", content=reply_text(answer), message_type="text"
                )
            )
        conversations.append_messages(conn, conversation, stored)
        if answer is None or answer.engine == "handoff":
            self._notify_staff(conn, turn, conversation, reason, now)
        else:
            conversations.record_staff_notice(conn, conversation.id, notified_at=None)
        return TurnOutcome(conversation, answer, 0)

    def _handoff_notice(
        self,
        conn: Connection,
        turn: TurnInput,
        conversation: conversations.Conversation,
        now: dt.datetime,
    ) -> TurnResult | None:
        """The hand-off's notice this message is due, in the customer's language."""
        interval = dt.timedelta(minutes=self._settings.handoff_ack_minutes)
        notice = handoff.notice_due(conversation, now, interval)
        if notice is None:
            return None
        handoff.record_notice(conn, conversation.id, at=now)
        message = turn.message
        language = turn.default_language
        if message.in_own_words:
            language = detect_language(message.said, language)
        body = phrases(language, turn.salon.language)[f"handoff_{notice}"]
        return TurnResult(messages=[TextMessage(body=body)], engine="handoff", language=language)

    def _hand_unconfirmed(self, conn: Connection, turn: TurnInput) -> None:
        """Bookings this message made for a client with the salon's
        `confirm_required_after_no_shows` no-shows are handed to staff (best effort, like
        every staff notification)."""
        message_id = turn.message.message_id
        if not message_id or turn.salon.outbound.confirm_required_after_no_shows is None:
            return
        rows = conn.execute(
            "SELECT code FROM bookings WHERE salon_id = %s AND needs_confirmation "
            "AND (source_message_id = %s OR left(source_message_id, %s) = %s)",
            (turn.salon.id, message_id, len(message_id) + 1, f"{message_id}#"),
        ).fetchall()
        for row in rows:
            try:
                self._staff.notify(
                    turn.salon,
                    phone=turn.message.phone,
                    text=f"booking {row['code']} needs confirmation (no-shows before)",
                    reason="needs_confirmation",
                )
            except Exception:
                count_error("staff_notify")
                logger.exception("needs-confirmation notification failed")

    def _notify_staff(
        self,
        conn: Connection,
        turn: TurnInput,
        conversation: conversations.Conversation,
        reason: str,
        now: dt.datetime,
        *,
        force: bool = False,
    ) -> None:
        """At most one notification per conversation every STAFF_NOTIFY_INTERVAL_MINUTES
        (`force`: now), counting the messages since the last one. Best effort: the message
        is stored for the staff whatever happens here, so a failed notification is logged
        and counted, never rolls the message back, and the next message tries again."""
        interval = dt.timedelta(minutes=self._settings.staff_notify_interval_minutes)
        if not (force or staff_notices.due(conversation.staff_notified_at, now, interval)):
            conversations.record_staff_notice(conn, conversation.id, notified_at=None)
            return
        message = turn.message
        try:
            self._staff.notify(
                turn.salon,
                phone=message.phone,
                text=message.said,
                reason=reason,
                count=conversation.staff_unnotified + 1,
                customer_name=message.contact_name,
            )
        except Exception:
            count_error("staff_notify")
            logger.exception(
                "staff notification failed: message kept for staff",
                extra={"reason": reason, "phone": mask_phone(message.phone)},
            )
            conversations.record_staff_notice(conn, conversation.id, notified_at=None)
            return
        conversations.record_staff_notice(conn, conversation.id, notified_at=now)

    def _count(
        self, result: TurnResult, conversation: conversations.Conversation, elapsed_ms: int
    ) -> None:
        metrics.add_metric(
            name=MetricName.RESPONSE_TIME_MS, unit=MetricUnit.Milliseconds, value=elapsed_ms
        )
        if result.tokens_used:
            metrics.add_metric(
                name=MetricName.TOKENS_USED, unit=MetricUnit.Count, value=result.tokens_used
            )
            metrics.add_metric(
                name=MetricName.COST_USD, unit=MetricUnit.NoUnit, value=float(result.cost)
            )
        if result.booking_code:
            metrics.add_metric(name=MetricName.BOOKINGS_CREATED, unit=MetricUnit.Count, value=1)
            if conversation.booking_count == 0:
                metrics.add_metric(
                    name=MetricName.CONVERSATIONS_CONVERTED, unit=MetricUnit.Count, value=1
                )
