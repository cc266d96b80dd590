"""Which engine answers the evaluated conversation, each built by the same factories as
production, on the evaluation's clock:

- `guided`: production without a model: the FAQ answers and the guided flow, zero tokens;
- `model`: the LLM agent answers every message (no FAQ shortcut); a failed model call
  falls back to the guided flow as in production, and the trial notes it;
- `router`: production's router (FAQ, kill switch, agent, fallback) as configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salonbot.errors import InvalidInput

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from salonbot.assistant.router import AssistantRouter
    from salonbot.config import Settings

ENGINES = ("guided", "model", "router")


def uses_model(engine: str, settings: Settings) -> bool:
    """Whether the engine would ask a model; `--engine model` without one is an error."""
    from salonbot.assistant.agent import openai_client

    configured = engine != "guided" and openai_client(settings) is not None
    if engine == "model" and not configured:
        raise InvalidInput(
            "needs a model: set OPENAI_API_KEY (and OPENAI_BASE_URL for another endpoint)",
            "--engine model",
        )
    return configured


def build_engine(
    engine: str, settings: Settings, clock: Callable[[], dt.datetime]
) -> AssistantRouter:
    from salonbot.assistant.agent import LlmAgent, openai_client
    from salonbot.assistant.faq import FaqResponder
    from salonbot.assistant.router import AssistantRouter, build_router, fallback_engine

    if engine == "router":
        return build_router(settings, clock=clock)
    if engine == "guided":
        return AssistantRouter(
            agent=None, fallback=fallback_engine(settings, clock=clock), faq=FaqResponder()
        )
    if engine == "model":
        client = openai_client(settings)
        if client is None:
            uses_model(engine, settings)  # raises
        assert client is not None
        return AssistantRouter(
            agent=LlmAgent(client, settings, clock=clock),
            fallback=fallback_engine(settings, clock=clock),
        )
    raise InvalidInput(f"one of {', '.join(ENGINES)}", "--engine")
