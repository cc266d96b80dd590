"""What a chat completions request says about length and sampling, by model family.

Reasoning models (the o-series: o1, o3, o4-mini, ...; the gpt-5 family except its chat
models) refuse `max_tokens` ("Use 'max_completion_tokens' instead") and any temperature
but the default, and bill their reasoning tokens as output within
`max_completion_tokens`. Other models (gpt-4o, gpt-4.1, a compatible server's own) get
`max_tokens` and the configured temperature, which every compatible server knows. The
family is told by the model's name; `OPENAI_REASONING_MODEL` overrides it (a compatible
server serving a reasoning model under another name)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salonbot.config import Settings

# o1, o3-mini, o4-mini-2025-04-16, gpt-5, gpt-5-mini, gpt-5.1; not gpt-5-chat-latest.
_REASONING_NAME = re.compile(r"^(?:o[1-9]\d*(?:-|$)|gpt-5(?![\w.-]*-chat))")


def is_reasoning_model(model: str, override: bool | None = None) -> bool:
    """True for a reasoning model, by name (a `provider/` prefix aside) unless overridden."""
    if override is not None:
        return override
    return bool(_REASONING_NAME.match(model.rsplit("/", 1)[-1].lower()))


@dataclass(frozen=True)
class CompletionShape:
    """The length and sampling parameters of every request to one model."""

    reasoning: bool
    max_tokens: int  # the first call's completion limit (reasoning included)
    temperature: float
    reasoning_effort: str | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> CompletionShape:
        return cls.for_model(settings, settings.openai_model)

    @classmethod
    def for_model(
        cls, settings: Settings, model: str, temperature: float | None = None
    ) -> CompletionShape:
        """The shape of `model`'s requests (a model experiment's arm may name another
        model than OPENAI_MODEL, and its own temperature; OPENAI_REASONING_MODEL speaks
        of OPENAI_MODEL only)."""
        override = settings.openai_reasoning_model if model == settings.openai_model else None
        reasoning = is_reasoning_model(model, override)
        return cls(
            reasoning=reasoning,
            max_tokens=(
                settings.openai_reasoning_max_tokens if reasoning else settings.openai_max_tokens
            ),
            temperature=settings.openai_temperature if temperature is None else temperature,
            reasoning_effort=settings.openai_reasoning_effort if reasoning else None,
        )

    def params(self, max_tokens: int) -> dict[str, Any]:
        """Keyword arguments of `chat.completions.create` for a call limited to `max_tokens`."""
        if not self.reasoning:
            return {"max_tokens": max_tokens, "temperature": self.temperature}
        params: dict[str, Any] = {"max_completion_tokens": max_tokens}
        if self.reasoning_effort is not None:
            params["reasoning_effort"] = self.reasoning_effort
        return params
