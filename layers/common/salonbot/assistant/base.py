"""The interface every assistant engine implements (LLM agent, guided flow, FAQ)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection
    from salonbot.experiment import Arm
    from salonbot.whatsapp.events import CustomerMessage, InteractiveReply
    from salonbot.whatsapp.outgoing import ButtonsMessage, ListMessage, TextMessage

Engine = Literal["llm", "guided", "faq", "fixed", "handoff"]


@dataclass(frozen=True)
class TurnInput:
    """One customer message with what the turn knows around it: the salon and the
    conversation. Identity comes from the channel, never from the model. The message
    itself is the one the channel decoded (the queue's `InboundMessage`, or the HTTP
    API's), passed on as it is; the properties below are what the engines read."""

    salon: Salon
    conversation_id: str
    message: CustomerMessage
    interactive_supported: bool = True  # False for the HTTP API
    # The language the conversation last used (`ai_conversations.language`); None: unknown.
    conversation_language: str | None = None
    # The guided flow's saved dialogue as the turn opened (and locked) the conversation;
    # None when the caller did not load it (then the engines read it themselves).
    guided_state: Mapping[str, Any] | None = None
    # The salon's model experiment arm for this conversation: the model and temperature
    # the agent uses instead of OPENAI_MODEL / OPENAI_TEMPERATURE. None: no experiment.
    experiment_arm: Arm | None = None

    @property
    def phone(self) -> str:
        """E.164, e.g. +79001234567 (or the customer's WhatsApp user id)."""
        return self.message.phone

    @property
    def text(self) -> str:
        """What the customer said: the text, a tap's title, a location's content, or
        `[image]` for media; after a burst's earlier messages, one a line."""
        return self.message.turn_text

    @property
    def model_text(self) -> str:
        """`text` with the text of the message of ours it replies to, for the model."""
        return self.message.model_text

    @property
    def message_type(self) -> str:
        return self.message.type

    @property
    def interactive(self) -> InteractiveReply | None:
        return self.message.interactive

    @property
    def message_id(self) -> str | None:
        """The channel's id of the message (wamid), for idempotent effects."""
        return self.message.message_id

    @property
    def contact_name(self) -> str | None:
        return self.message.contact_name

    @property
    def default_language(self) -> str:
        """The language for a message without a language signal of its own ("10:00", "2",
        an emoji, a tap): the conversation's, else the salon's."""
        return self.conversation_language or self.salon.language


@dataclass
class TurnResult:
    messages: list[TextMessage | ListMessage | ButtonsMessage]
    engine: Engine
    language: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)
    model: str | None = None
    model_calls: int = 0
    booking_code: str | None = None
    handoff: bool = False
    notes: list[str] = field(default_factory=list)
    # Tool calls the engine made this turn (name, arguments, result), kept with the reply.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens_used(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Assistant(Protocol):
    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        """Answer one customer message. Runs inside the caller's transaction: every
        database effect commits or rolls back with the message's processing record."""
        ...
