"""The customer of an evaluated conversation: scripted (the task's `script`, no model; what
CI runs) or played by a model from the task's `instructions`.

A simulator sees the conversation as the customer's phone shows it (the salon's replies,
options numbered) and answers with one action: say a text, or tap an option whose title
matches a regular expression. It ends the conversation by returning None: the scripted
customer at the end of its script, the model by writing the stop token `###STOP###`
(nothing more is sent), or when `max_turns` messages were sent. The model customer's
tokens are its own, counted apart from the assistant's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from salonbot_dev.eval.tasks import Tap

if TYPE_CHECKING:
    from collections.abc import Sequence

    from openai import OpenAI

    from salonbot_dev.eval.tasks import Step, Task
    from salonbot_dev.fakes.customer import Choice, Reply

STOP_TOKEN = "###STOP###"
DEFAULT_MAX_TURNS = 12
USERS = ("scripted", "model")
LANGUAGE_NAMES = {"ru": "Russian", "en": "English"}


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class TapOption:
    pattern: str  # a regular expression searched in the offered titles


Action = Say | TapOption


@dataclass(frozen=True)
class Exchange:
    """One customer message (as the phone shows it sent) and the salon's replies to it."""

    sent: str
    replies: tuple[Reply, ...]


@dataclass
class SimulatorUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Simulator(Protocol):
    usage: SimulatorUsage

    def next_action(self, history: Sequence[Exchange]) -> Action | None:
        """The customer's next move after `history`; None ends the conversation."""
        ...


def _action(step: Step) -> Action:
    return TapOption(step.tap) if isinstance(step, Tap) else Say(step)


@dataclass
class ScriptedUser:
    script: Sequence[Step]
    usage: SimulatorUsage = field(default_factory=SimulatorUsage)

    def next_action(self, history: Sequence[Exchange]) -> Action | None:
        turn = len(history)
        return _action(self.script[turn]) if turn < len(self.script) else None


@dataclass(frozen=True)
class ModelUserConfig:
    """The endpoint that plays the customer (EVAL_USER_MODEL, EVAL_USER_BASE_URL,
    EVAL_USER_API_KEY)."""

    model: str
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 60.0

    def client(self) -> OpenAI:
        from openai import OpenAI

        # A local OpenAI-compatible server may want no key; the SDK insists on one.
        return OpenAI(
            api_key=self.api_key or "none",
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=2,
        )


def render(replies: Sequence[Reply]) -> str:
    """The salon's replies as the customer reads them: options numbered on one list."""
    lines: list[str] = []
    number = 0
    for reply in replies:
        if reply.text:
            lines.append(reply.text)
        for choice in reply.choices:
            number += 1
            suffix = f" — {choice.description}" if choice.description else ""
            lines.append(f"  {number}. {choice.title}{suffix}")
    return "\n".join(lines) or "(no reply)"


def system_prompt(task: Task, language: str | None) -> str:
    speaks = LANGUAGE_NAMES.get(language or "", language or "the salon's language")
    name = f" Your name is {task.customer.name}." if task.customer.name else ""
    return (
        "You play a customer writing to a beauty salon's WhatsApp assistant. Stay in "
        f"character.{name} You write in {speaks}, briefly, like a person on a phone.\n\n"
        f"Your situation and goal:\n{task.instructions.strip()}\n\n"
        "Rules:\n"
        "- Write only the message you would send; never explain or describe yourself.\n"
        "- When the salon offers numbered options, you may answer with an option's number "
        "or its exact title to tap it.\n"
        "- Do not invent wishes beyond your goal; answer the salon's questions from it.\n"
        f"- When your goal is reached, or clearly cannot be, write {STOP_TOKEN} alone."
    )


def _choices(replies: Sequence[Reply]) -> list[Choice]:
    return [choice for reply in replies for choice in reply.choices]


def as_action(text: str, offered: Sequence[Choice]) -> Action:
    """A number or an exact title of an offered option taps it; anything else is said."""
    said = text.strip()
    if said.isdigit() and 1 <= int(said) <= len(offered):
        title = offered[int(said) - 1].title
        return TapOption(f"^{re.escape(title)}$")
    for choice in offered:
        if said.casefold() == choice.title.strip().casefold():
            return TapOption(f"^{re.escape(choice.title)}$")
    return Say(said)


@dataclass
class ModelUser:
    client: OpenAI
    model: str
    task: Task
    language: str | None = None
    max_turns: int = DEFAULT_MAX_TURNS
    usage: SimulatorUsage = field(default_factory=SimulatorUsage)
    stopped_by_token: bool = False

    def messages(self, history: Sequence[Exchange]) -> list[dict[str, str]]:
        # The simulator is the "assistant" of its own chat: the salon's words come to it
        # as the user's.
        out = [{"role": "system", "content": system_prompt(self.task, self.language)}]
        out.append({"role": "user", "content": "(The chat is open. Write your first message.)"})
        for exchange in history:
            out.append({"role": "assistant", "content": exchange.sent})
            out.append({"role": "user", "content": render(exchange.replies)})
        return out

    def next_action(self, history: Sequence[Exchange]) -> Action | None:
        if len(history) >= self.max_turns:
            return None
        response = self.client.chat.completions.create(
            model=self.model,
            messages=self.messages(history),  # type: ignore[arg-type]
        )
        self.usage.calls += 1
        if response.usage is not None:
            self.usage.prompt_tokens += response.usage.prompt_tokens
            self.usage.completion_tokens += response.usage.completion_tokens
        content = (response.choices[0].message.content or "") if response.choices else ""
        if STOP_TOKEN in content or not content.strip():
            self.stopped_by_token = STOP_TOKEN in content
            return None
        offered = _choices(history[-1].replies) if history else []
        return as_action(content, offered)
