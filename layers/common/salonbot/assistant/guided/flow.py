"""The guided flow as an `Assistant`: a deterministic dialogue that books, lists, moves and
cancels with WhatsApp lists and buttons, at zero tokens. The router uses it when the model
is off, over budget or failing; it is also the local stack's engine without an OpenAI key.

`respond` is the only part that sees the database: it builds the turn's `PostgresDesk` over
the caller's connection (so every effect commits or rolls back with the turn) and loads and
saves the dialogue's state with the conversation. `answer` is the turn itself, the same with
any desk: it resumes the state, picks the language, runs the dialogue step and renders its
replies, which is what the guided flow's database-free tests drive."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.assistant.base import TurnResult
from salonbot.assistant.faq import FaqAnswers, shared_answers
from salonbot.assistant.guided.dialogue import step
from salonbot.assistant.guided.message import GuidedMessage
from salonbot.assistant.guided.render import Renderer
from salonbot.assistant.guided.state import load_state
from salonbot.assistant.language import detect_language
from salonbot.booking.desk import PostgresDesk
from salonbot.conversation import store as conversations

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from salonbot.assistant.base import TurnInput
    from salonbot.assistant.guided.replies import Reply
    from salonbot.booking.desk import BookingDesk
    from salonbot.db.connection import Connection

DEFAULT_STATE_TTL = dt.timedelta(minutes=30)


@dataclass
class GuidedAnswer:
    result: TurnResult
    state: dict[str, Any]  # to save with the conversation
    replies: list[Reply]  # the intents `result.messages` were rendered from


class GuidedFlow:
    """`Assistant` with no model: the guided dialogue over the turn's booking desk."""

    def __init__(
        self,
        *,
        state_ttl: dt.timedelta = DEFAULT_STATE_TTL,
        clock: Callable[[], dt.datetime] | None = None,
        faq: FaqAnswers | None = None,
    ) -> None:
        self.state_ttl = state_ttl
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.faq = faq or shared_answers()

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        now = self._clock()
        saved = (
            turn.guided_state
            if turn.guided_state is not None
            else conversations.get_state(conn, turn.conversation_id)
        )
        desk = PostgresDesk(conn, turn.salon, turn.phone, now.astimezone(turn.salon.tz))
        answer = self.answer(
            saved,
            GuidedMessage.from_turn(turn, quoted_booking=_quoted_booking(conn, turn)),
            desk,
            now=now,
            default_language=turn.default_language,
            interactive=turn.interactive_supported,
        )
        conversations.set_state(conn, turn.conversation_id, answer.state)
        return answer.result

    def answer(
        self,
        saved: Mapping[str, Any],
        message: GuidedMessage,
        desk: BookingDesk,
        *,
        now: dt.datetime,
        default_language: str,
        interactive: bool = True,
    ) -> GuidedAnswer:
        """One turn against `desk` (salon-local `desk.now`), from the state saved last turn
        to the one to save; `now` stamps the state and measures its age."""
        state, expired = load_state(saved, now, self.state_ttl)
        language = _language(message, saved.get("lang") or default_language)
        outcome = step(state, message, desk, expired=expired)
        renderer = Renderer(desk.salon, language, desk.now, self.faq, interactive=interactive)
        rendered = renderer.render(outcome.replies)
        if rendered.options is not None:
            outcome.state.options = rendered.options
        result = TurnResult(
            messages=rendered.messages,
            engine="faq" if outcome.faq_only else "guided",
            language=language,
            booking_code=outcome.booking_code,
            handoff=outcome.handoff,
            tool_calls=outcome.actions,
        )
        stored = outcome.state.to_json(at=now, language=language)
        return GuidedAnswer(result=result, state=stored, replies=outcome.replies)


def _quoted_booking(conn: Connection, turn: TurnInput) -> str | None:
    """The booking of the reply of ours the customer quotes (a confirmation), if any."""
    wamid = turn.message.reply_to_message_id
    if wamid is None or turn.interactive is not None:
        return None
    from salonbot.outbound.quoted import quoted_booking

    quoted = quoted_booking(conn, turn.salon.id, wamid)
    return quoted.code if quoted is not None else None


def _language(message: GuidedMessage, previous: str) -> str:
    """The customer's language: taps carry our own titles, so they keep the previous."""
    if message.tapped is not None or not message.has_words:
        return previous
    return detect_language(message.text, previous)
