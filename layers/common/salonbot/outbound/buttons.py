"""The customer's answer to a reminder: its confirm / cancel / move buttons.

A button's id (free-form reminder) or payload (template quick reply) names the booking on
its own (`booking:confirm:AB12CD`), so the tap means the same whichever message it came
from; WhatsApp's `context.id` (the reminder's wamid) is not needed to find the booking.
A message of the customer's own that quotes a reminder (`context.id` is its wamid) refers
to that reminder's booking: a short answer ("да", "cancel", "перенести", `lexicon`) is
taken as the matching button (`quoted`: which booking a message of ours names). A reply
quoting our booking confirmation is the guided flow's (with its confirm step).
Confirm marks the booking confirmed by the customer; cancel cancels it under the same
rules as the customer's own path (their booking, live, not yet started); move starts a
move of that booking in the guided flow. Any other message goes to the engine as before."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from salonbot import texts
from salonbot.booking import store
from salonbot.errors import BookingNotFound, InvalidInput
from salonbot.observability import count_error, logger
from salonbot.outbound import templates, waitlist
from salonbot.outbound.lexicon import reminder_answer
from salonbot.outbound.quoted import outbound_booking
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.assistant.base import Assistant, TurnInput, TurnResult
    from salonbot.db.connection import Connection
    from salonbot.processing.staff import StaffNotifier
    from salonbot.whatsapp.events import CustomerMessage

# A rating this low or lower is passed on to the salon's staff.
LOW_RATING = 2

PREFIX = "booking:"
RATE_PREFIX = "rate:"
ACTIONS = ("confirm", "cancel", "move")


def parse(option_id: str) -> tuple[str, str] | None:
    """(action, booking code) of one of our reminder buttons or feedback ratings
    (`rate:CODE:N` gives `rate:N`), else None."""
    if option_id.startswith(RATE_PREFIX):
        code, _, rating = option_id.removeprefix(RATE_PREFIX).partition(":")
        if code and rating in ("1", "2", "3", "4", "5"):
            return f"rate:{rating}", code
        return None
    if not option_id.startswith(PREFIX):
        return None
    action, _, code = option_id.removeprefix(PREFIX).partition(":")
    if action not in ACTIONS or not code:
        return None
    return action, code


class WithReminderButtons:
    """`Assistant` that answers reminder buttons itself and passes everything else on.
    `mover` answers a move (the guided flow, which asks for the new time)."""

    def __init__(
        self,
        engine: Assistant,
        mover: Assistant | None = None,
        staff: StaffNotifier | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._engine = engine
        self._mover = mover or engine
        self._staff = staff
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        tapped = turn.message.interactive
        if tapped is not None and (wait := waitlist.parse(tapped.id)) is not None:
            return self._waitlist(conn, turn, *wait)
        parsed = parse(tapped.id) if tapped is not None else self._quoted(conn, turn)
        if parsed is None:
            return self._engine.respond(conn, turn)
        action, code = parsed
        if action == "move":
            return self._move(conn, turn, code)
        if action.startswith("rate:"):
            return self._rate(conn, turn, code, int(action.removeprefix("rate:")))
        return self._answer(conn, turn, action, code)

    def _rate(self, conn: Connection, turn: TurnInput, code: str, rating: int) -> TurnResult:
        from salonbot.assistant.base import TurnResult

        salon, phone = turn.salon, turn.message.phone
        t = texts.phrases(turn.conversation_language or salon.language, salon.language)
        try:
            booking = store.rate_booking(
                conn, salon, phone=phone, code=code, rating=rating, now=self._clock()
            )
        except (BookingNotFound, InvalidInput):
            text = t["reminder_booking_gone"].format(code=code.upper())
            return TurnResult(
                messages=[TextMessage(body=text)], engine="guided", language=t.language
            )
        low = rating <= LOW_RATING
        if low and self._staff is not None:
            try:
                self._staff.notify(
                    salon,
                    phone=phone,
                    text=f"rated visit {booking.code} ({booking.master_name}) {rating}/5",
                    reason="low_rating",
                )
            except Exception:
                count_error("staff_notify")
                logger.exception("low rating notification failed")
        return TurnResult(
            messages=[TextMessage(body=t["feedback_sorry" if low else "feedback_thanks"])],
            engine="guided",
            language=t.language,
            tool_calls=[
                {"name": "rate_visit", "arguments": {"code": booking.code, "rating": rating}}
            ],
        )

    def _answer(self, conn: Connection, turn: TurnInput, action: str, code: str) -> TurnResult:
        from salonbot.assistant.base import TurnResult

        salon, phone = turn.salon, turn.message.phone
        language = turn.conversation_language or salon.language
        t = texts.phrases(language, salon.language)
        try:
            if action == "confirm":
                booking = store.confirm_booking(
                    conn, salon, phone=phone, code=code, now=self._clock()
                )
                key = "reminder_confirmed"
            else:
                booking = store.cancel_booking(
                    conn, salon, phone=phone, code=code, now=self._clock()
                )
                key = "reminder_cancelled"
        except (BookingNotFound, InvalidInput):
            text = t["reminder_booking_gone"].format(code=code.upper())
            return TurnResult(messages=[TextMessage(body=text)], engine="guided", language=language)
        values = templates.booking_values(salon, booking, t.language)
        text = t[key].format(day=values["start_date"], time=values["start_time"], code=booking.code)
        return TurnResult(
            messages=[TextMessage(body=text)],
            engine="guided",
            language=t.language,
            tool_calls=[{"name": f"reminder_{action}", "arguments": {"code": booking.code}}],
        )

    def _waitlist(self, conn: Connection, turn: TurnInput, action: str, value: str) -> TurnResult:
        """A waitlist button: join (under a full day) or take an offered time."""
        from salonbot.assistant.base import TurnResult

        salon, phone = turn.salon, turn.message.phone
        t = texts.phrases(turn.conversation_language or salon.language, salon.language)
        if action == "take":
            try:
                booking = waitlist.take(
                    conn, salon, phone=phone, offer_id=int(value), now=self._clock()
                )
            except (waitlist.OfferGone, ValueError):
                return TurnResult(
                    messages=[TextMessage(body=t["waitlist_gone"])],
                    engine="guided",
                    language=t.language,
                )
            values = templates.booking_values(salon, booking, t.language)
            text = t["reminder_confirmed"].format(
                day=values["start_date"], time=values["start_time"], code=booking.code
            )
            return TurnResult(
                messages=[TextMessage(body=text)],
                engine="guided",
                language=t.language,
                tool_calls=[{"name": "waitlist_take", "arguments": {"code": booking.code}}],
            )
        service_code, _, rest = value.partition("|")
        day, _, master_code = rest.partition("|")
        try:
            when = dt.date.fromisoformat(day)
            waitlist.join(
                conn,
                salon,
                phone=phone,
                service_code=service_code,
                day=when,
                master_code=master_code or None,
                language=t.language,
                now=self._clock(),
            )
        except (InvalidInput, ValueError):
            return self._engine.respond(conn, turn)
        service = salon.services[service_code]
        text = t["waitlist_joined"].format(service=service.name(t.language), day=t.day(when))
        return TurnResult(
            messages=[TextMessage(body=text)],
            engine="guided",
            language=t.language,
            tool_calls=[
                {
                    "name": "join_waitlist",
                    "arguments": {"service": service_code, "day": day, "master": master_code},
                }
            ],
        )

    @staticmethod
    def _quoted(conn: Connection, turn: TurnInput) -> tuple[str, str] | None:
        """(action, code) when the customer's words answer a reminder they quote."""
        quoted_id = turn.message.reply_to_message_id
        if quoted_id is None or not turn.message.in_own_words:
            return None
        said = (turn.message.text or "").strip()
        action = reminder_answer(said)
        if action is None and said in ("1", "2", "3", "4", "5"):
            action = f"rate:{said}"
        if action is None:
            return None
        quoted = outbound_booking(conn, turn.salon.id, quoted_id)
        if quoted is None or action.startswith("rate:") != (quoted.kind == "feedback"):
            return None
        return action, quoted.code

    def _move(self, conn: Connection, turn: TurnInput, code: str) -> TurnResult:
        from salonbot.assistant.guided.options import StartMove, encode
        from salonbot.whatsapp.events import InteractiveReply

        tapped = turn.message.interactive
        # The guided flow's own "move this booking" option, for the same booking.
        rewritten = turn.message.model_copy(
            update={
                "interactive": InteractiveReply(
                    kind=tapped.kind if tapped else "button_reply",
                    id=encode(StartMove(code.upper())),
                    title=tapped.title if tapped else (turn.message.text or ""),
                ),
                "text": None,
                "type": "interactive",
            }
        )
        return self._mover.respond(conn, _with_message(turn, rewritten))


def guided_engine(assistant: Assistant) -> Assistant | None:
    """The guided flow inside a router (`fallback`), through its wrappers (`engine`)."""
    current: object = assistant
    for _ in range(5):
        fallback = getattr(current, "fallback", None)
        if fallback is not None:
            return fallback  # type: ignore[no-any-return]
        current = getattr(current, "engine", None)
        if current is None:
            return None
    return None


def _with_message(turn: TurnInput, message: CustomerMessage) -> TurnInput:
    import dataclasses

    return dataclasses.replace(turn, message=message)
