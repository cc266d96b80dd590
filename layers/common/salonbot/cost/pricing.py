"""USD prices per million tokens, per model: the single table the cost guard, the
per-message cost and `salonbot cost-estimate` all use.

Prices are OpenAI's standard-tier list prices from https://developers.openai.com/api/docs/pricing
(also https://openai.com/api/pricing/), as that page read in 2026: input, cached input and
output per 1M tokens. Cached input is a tenth of input for the gpt-5 family, a quarter for
gpt-4.1 and o3/o4-mini, a half for gpt-4o and o1. A reasoning model's reasoning tokens are
billed as output and are part of `completion_tokens`, so they cost what output costs.

A model the table does not know (a compatible server's own model, a typo) is priced by the
settings `OPENAI_PRICE_INPUT_PER_MTOK` / `OPENAI_PRICE_OUTPUT_PER_MTOK` when both are set,
else at the most expensive known rate (every price the highest in the table), with a
warning: the guard then holds more than it needs, never less, and says so."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from salonbot.config import Settings

MILLION = Decimal(1_000_000)
UNKNOWN_MODEL_RATE = "the most expensive known rate"
CONFIGURED_RATE = "OPENAI_PRICE_INPUT_PER_MTOK / OPENAI_PRICE_OUTPUT_PER_MTOK"


@dataclass(frozen=True)
class ModelPrice:
    input: Decimal  # per 1M uncached prompt tokens
    cached_input: Decimal  # per 1M cached prompt tokens
    output: Decimal  # per 1M completion tokens (reasoning tokens included)

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


# Standard tier, USD per 1M tokens: input, cached input, output. Sorted by family; a dated
# snapshot (`gpt-4o-mini-2024-07-18`) takes its family's price by prefix.
PRICES: dict[str, ModelPrice] = {
    "gpt-5": _p("1.25", "0.125", "10.00"),
    "gpt-5-mini": _p("0.25", "0.025", "2.00"),
    "gpt-5-nano": _p("0.05", "0.005", "0.40"),
    "o4-mini": _p("1.10", "0.275", "4.40"),
    "o3": _p("2.00", "0.50", "8.00"),
    "o3-mini": _p("1.10", "0.55", "4.40"),
    "o1": _p("15.00", "7.50", "60.00"),
    "gpt-4.1": _p("2.00", "0.50", "8.00"),
    "gpt-4.1-mini": _p("0.40", "0.10", "1.60"),
    "gpt-4.1-nano": _p("0.10", "0.025", "0.40"),
    "gpt-4o": _p("2.50", "1.25", "10.00"),
    "gpt-4o-mini": _p("0.15", "0.075", "0.60"),
    # Older models, kept for the deployment guide's examples.
    "gpt-4-turbo": _p("10.00", "10.00", "30.00"),
    "gpt-4-turbo-preview": _p("10.00", "10.00", "30.00"),
    "gpt-4": _p("30.00", "30.00", "60.00"),
    "gpt-3.5-turbo": _p("0.50", "0.50", "1.50"),
}

# Each of the three the highest in the table: no known model costs more per token.
MOST_EXPENSIVE = ModelPrice(
    input=max(p.input for p in PRICES.values()),
    cached_input=max(p.cached_input for p in PRICES.values()),
    output=max(p.output for p in PRICES.values()),
)


@dataclass(frozen=True)
class PriceQuote:
    """How one model is priced: the price, the table entry (or rule) it came from, and
    whether the table knows the model."""

    model: str
    price: ModelPrice
    priced_as: str
    known: bool

    @property
    def warning(self) -> str | None:
        """What operators are told when a model is priced at a guess."""
        if self.known or self.priced_as == CONFIGURED_RATE:
            return None
        return (
            f"model {self.model!r} is not in the price table: priced at {UNKNOWN_MODEL_RATE} "
            f"(${self.price.input} input / ${self.price.output} output per 1M tokens); "
            "set OPENAI_PRICE_INPUT_PER_MTOK and OPENAI_PRICE_OUTPUT_PER_MTOK"
        )


def table_entry(model: str) -> str | None:
    """The table's name for `model`: exact match first, then the longest known prefix."""
    if model in PRICES:
        return model
    for name in sorted(PRICES, key=len, reverse=True):
        if model.startswith(name + "-"):
            return name
    return None


def quote(
    model: str,
    *,
    input_per_mtok: Decimal | None = None,
    output_per_mtok: Decimal | None = None,
) -> PriceQuote:
    """The table's price for a model it knows; for another, the configured rates (both
    given), else the most expensive known rate."""
    entry = table_entry(model)
    if entry is not None:
        return PriceQuote(model, PRICES[entry], entry, known=True)
    if input_per_mtok is not None and output_per_mtok is not None:
        price = ModelPrice(
            Decimal(input_per_mtok), Decimal(input_per_mtok), Decimal(output_per_mtok)
        )
        return PriceQuote(model, price, CONFIGURED_RATE, known=False)
    return PriceQuote(model, MOST_EXPENSIVE, UNKNOWN_MODEL_RATE, known=False)


def price_for(model: str) -> ModelPrice:
    """The table's price of `model`, or the most expensive known rate."""
    return quote(model).price


def configured_quote(settings: Settings) -> PriceQuote:
    """The price of `OPENAI_MODEL` as the agent, the guard and `/health` see it."""
    return quote(
        settings.openai_model,
        input_per_mtok=settings.openai_price_input_per_mtok,
        output_per_mtok=settings.openai_price_output_per_mtok,
    )


def model_quote(settings: Settings, model: str) -> PriceQuote:
    """The price of `model` (a model experiment's arm): the configured rates speak of
    `OPENAI_MODEL` only, so another model the table lacks is priced at the most
    expensive known rate."""
    if model == settings.openai_model:
        return configured_quote(settings)
    return quote(model)
