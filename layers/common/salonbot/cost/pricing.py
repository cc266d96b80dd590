"""USD prices per million tokens, per model: the single table the cost guard, the
per-message cost and `salonbot cost-estimate` all use.

Unknown models are priced as the most expensive known model, so a typo in OPENAI_MODEL
can make the guard stricter, never looser."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    input: Decimal  # per 1M uncached prompt tokens
    cached_input: Decimal  # per 1M cached prompt tokens
    output: Decimal  # per 1M completion tokens

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal:
        cached = min(max(cached_tokens, 0), max(prompt_tokens, 0))
        uncached = max(prompt_tokens, 0) - cached
        total = (
            Decimal(uncached) * self.input
            + Decimal(cached) * self.cached_input
            + Decimal(max(completion_tokens, 0)) * self.output
        ) / MILLION
        return total.quantize(Decimal("0.00000001"))


def _p(inp: str, cached: str, out: str) -> ModelPrice:
    return ModelPrice(Decimal(inp), Decimal(cached), Decimal(out))


# OpenAI list prices (standard tier). Keep sorted by family; add dated aliases as needed.
PRICES: dict[str, ModelPrice] = {
    "gpt-4o-mini": _p("0.15", "0.075", "0.60"),
    "gpt-4o": _p("2.50", "1.25", "10.00"),
    "gpt-4.1-nano": _p("0.10", "0.025", "0.40"),
    "gpt-4.1-mini": _p("0.40", "0.10", "1.60"),
    "gpt-4.1": _p("2.00", "0.50", "8.00"),
    "gpt-4-turbo": _p("10.00", "10.00", "30.00"),
    "gpt-4-turbo-preview": _p("10.00", "10.00", "30.00"),
    "gpt-4": _p("30.00", "30.00", "60.00"),
    "gpt-3.5-turbo": _p("0.50", "0.50", "1.50"),
}

_MOST_EXPENSIVE = max(PRICES.values(), key=lambda p: p.input + p.output)


def price_for(model: str) -> ModelPrice:
    """Exact match first, then the longest known prefix (`gpt-4o-mini-2024-07-18`)."""
    if model in PRICES:
        return PRICES[model]
    for name in sorted(PRICES, key=len, reverse=True):
        if model.startswith(name + "-"):
            return PRICES[name]
    return _MOST_EXPENSIVE
