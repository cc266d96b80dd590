"""The processor wired with the guided flow as production wires it without a model, and a
customer who reads the salon's replies as a phone shows them and taps their options."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from salonbot.assistant.agent import LlmAgent, openai_client
from salonbot.assistant.faq import FaqAnswers, FaqResponder
from salonbot.assistant.guided import GuidedFlow
from salonbot.assistant.router import AssistantRouter, WithLastResort
from salonbot.config import Settings
from salonbot.cost.guard_protocol import SpendGuard, UnlimitedSpend
from salonbot.db.connection import Connection
from salonbot.whatsapp.events import InteractiveReply
from salonbot_dev.fakes.customer import Choice, Reply, reply_from_payload
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.processor.harness import CUSTOMER, Clock, Harness, settings_for, wire

STATE_TTL = dt.timedelta(minutes=30)


def guided_harness(
    conn: Connection,
    fake_whatsapp: FakeWhatsApp,
    *,
    clock: Clock | None = None,
    fake_openai: FakeOpenAI | None = None,
    faq: FaqAnswers | None = None,
    max_retries: int = 0,
) -> Harness:
    """Like production: FAQ first, the agent when a model is configured, else the guided
    flow (the fixed text as its last resort)."""
    settings = settings_for(fake_openai, fake_whatsapp, openai_max_retries=max_retries)
    return production_harness(conn, settings, clock=clock or Clock(), faq=faq)


def production_harness(
    conn: Connection,
    settings: Settings,
    *,
    clock: Clock,
    guard: SpendGuard[Any] | None = None,
    faq: FaqAnswers | None = None,
    **parts: Any,
) -> Harness:
    """The router as production builds it (FAQ, the agent under `guard` when a model is
    configured, the guided flow with the fixed text as last resort) inside the processor."""
    client = openai_client(settings)
    agent = (
        LlmAgent(client, settings, guard=guard or UnlimitedSpend(), clock=clock) if client else None
    )
    answers = faq or FaqAnswers()
    router = AssistantRouter(
        agent=agent,
        fallback=WithLastResort(GuidedFlow(state_ttl=STATE_TTL, clock=clock, faq=answers)),
        faq=FaqResponder(answers),
    )
    return wire(conn, settings, router, clock=clock, **parts)


@dataclass
class Customer:
    """Writes and taps like a person reading the phone; `replies` are the latest burst."""

    harness: Harness
    fake: FakeWhatsApp
    phone: str = CUSTOMER
    seen: int = 0
    replies: list[Reply] = field(default_factory=list)

    def _collect(self) -> list[Reply]:
        sent = self.fake.sent_to(self.phone.lstrip("+"))
        fresh = [reply_from_payload(m.payload) for m in sent[self.seen :]]
        self.seen = len(sent)
        self.replies = fresh
        return fresh

    def say(self, text: str | None, *, kind: str = "text") -> list[Reply]:
        self.harness.process(self.harness.body(text, phone=self.phone, kind=kind))
        return self._collect()

    def tap(self, title_prefix: str) -> list[Reply]:
        choice = self.choice(title_prefix)
        interactive = InteractiveReply.model_validate(
            {"kind": choice.kind, "id": choice.id, "title": choice.title}
        )
        self.harness.process(self.harness.body(None, phone=self.phone, interactive=interactive))
        return self._collect()

    @property
    def choices(self) -> list[Choice]:
        return [c for r in self.replies for c in r.choices]

    def choice(self, title_prefix: str) -> Choice:
        for choice in self.choices:
            if choice.title.lower().startswith(title_prefix.lower()):
                return choice
        raise AssertionError(f"no option {title_prefix!r} in {[c.title for c in self.choices]}")

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    def titles(self) -> list[str]:
        return [c.title for c in self.choices]
