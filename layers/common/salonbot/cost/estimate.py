"""Monthly cost estimate: the deployment guide's calculator, computed from the same price
table the cost guard uses.

The guide's example (100 customers, 3 messages each, ~500 tokens per request) gives
GPT-4 ~$45 and GPT-3.5 Turbo ~$3 a month. Those figures do not follow from list prices,
nor from the guide's own per-request figures (~$0.03 and ~$0.002): 300 requests at
$0.03 are $9, not $45. The estimate shows its arithmetic and the guide's figure beside
it instead of reproducing numbers that cannot be derived."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from salonbot.cost.pricing import quote

# The guide's monthly calculator: (customers, messages, tokens) -> model -> USD a month.
GUIDE_EXAMPLE = (100, 3, 500)
GUIDE_MONTHLY_USD = {"gpt-4": Decimal(45), "gpt-3.5-turbo": Decimal(3)}
GUIDE_PER_REQUEST_USD = {
    "gpt-4": Decimal("0.03"),
    "gpt-4-turbo-preview": Decimal("0.015"),
    "gpt-3.5-turbo": Decimal("0.002"),
}


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MonthlyEstimate:
    model: str
    priced_as: str  # the price table entry used, or the rule that priced an unknown model
    customers: int
    messages_per_customer: int
    tokens_per_message: int
    completion_share: Decimal
    requests: int
    prompt_tokens: int
    completion_tokens: int
    input_usd_per_million: Decimal
    output_usd_per_million: Decimal
    monthly_usd: Decimal
    per_request_usd: Decimal
    all_prompt_usd: Decimal  # lower bound: every token billed as input
    all_completion_usd: Decimal  # upper bound: every token billed as output
    guide_monthly_usd: Decimal | None  # the guide's figure, for its own example only
    warning: str | None = None  # an unknown model priced at the most expensive known rate

    def scaled(self, customers: int) -> Decimal:
        return (
            _money(self.monthly_usd * customers / self.customers) if self.customers else Decimal(0)
        )

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()
        }
        data["scaling"] = {str(n): str(self.scaled(n)) for n in (1_000, 10_000)}
        return data

    def explain(self) -> list[str]:
        """The computation, line by line, for people."""
        lines = [
            f"model         {self.model} (priced as {self.priced_as}: "
            f"${self.input_usd_per_million} input / ${self.output_usd_per_million} output "
            "per 1M tokens)",
            f"requests      {self.customers:,} customers x {self.messages_per_customer} messages"
            f" = {self.requests:,} a month",
            f"tokens        {self.requests:,} x {self.tokens_per_message} = "
            f"{self.prompt_tokens + self.completion_tokens:,} "
            f"({self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion, "
            f"{self.completion_share:.0%} completion)",
            f"cost          {self.prompt_tokens:,} x ${self.input_usd_per_million}/1M + "
            f"{self.completion_tokens:,} x ${self.output_usd_per_million}/1M = "
            f"${self.monthly_usd} a month (${self.per_request_usd} a request)",
            f"range         ${self.all_prompt_usd} (all prompt) to "
            f"${self.all_completion_usd} (all completion)",
            f"scaling       1,000 customers: ${self.scaled(1_000)}; "
            f"10,000 customers: ${self.scaled(10_000)}",
        ]
        if self.guide_monthly_usd is not None:
            lines.append(
                f"guide         the deployment guide says ~${self.guide_monthly_usd} a month "
                "for this example; list prices give the figure above. The guide's figure "
                "matches neither list prices nor its own per-request cost"
                + (
                    f" (~${GUIDE_PER_REQUEST_USD[self.model]} x {self.requests} = "
                    f"${GUIDE_PER_REQUEST_USD[self.model] * self.requests})"
                    if self.model in GUIDE_PER_REQUEST_USD
                    else ""
                )
                + "."
            )
        return lines


def monthly_estimate(
    *,
    customers: int,
    messages_per_customer: int,
    model: str,
    tokens_per_message: int = 500,
    completion_share: Decimal = Decimal("0.2"),
    input_per_mtok: Decimal | None = None,
    output_per_mtok: Decimal | None = None,
) -> MonthlyEstimate:
    """One model call per customer message, `tokens_per_message` tokens per call of which
    `completion_share` are completion tokens. A model the price table does not know is
    priced at `input_per_mtok` / `output_per_mtok` (OPENAI_PRICE_*) when given, else at
    the most expensive known rate, with a warning."""
    if customers < 0 or messages_per_customer < 0 or tokens_per_message < 0:
        raise ValueError("counts must not be negative")
    if not Decimal(0) <= completion_share <= Decimal(1):
        raise ValueError("completion_share must be between 0 and 1")
    priced = quote(model, input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok)
    price = priced.price
    requests = customers * messages_per_customer
    total = requests * tokens_per_message
    completion = int((Decimal(total) * completion_share).to_integral_value(ROUND_HALF_UP))
    prompt = total - completion
    monthly = _money(price.cost(prompt, completion))
    guide = None
    if (customers, messages_per_customer, tokens_per_message) == GUIDE_EXAMPLE:
        guide = GUIDE_MONTHLY_USD.get(model)
    return MonthlyEstimate(
        model=model,
        priced_as=priced.priced_as,
        customers=customers,
        messages_per_customer=messages_per_customer,
        tokens_per_message=tokens_per_message,
        completion_share=completion_share,
        requests=requests,
        prompt_tokens=prompt,
        completion_tokens=completion,
        input_usd_per_million=price.input,
        output_usd_per_million=price.output,
        monthly_usd=monthly,
        per_request_usd=_money(monthly / requests) if requests else Decimal(0),
        all_prompt_usd=_money(price.cost(total, 0)),
        all_completion_usd=_money(price.cost(0, total)),
        guide_monthly_usd=guide,
        warning=priced.warning,
    )


@dataclass(frozen=True)
class MessagesEstimate:
    """What WhatsApp bills a month for the salon's messages, from the rate table."""

    market: str
    replies: int  # one reply per customer message: service messages
    reminders: int  # utility templates, assumed outside the customer's window
    reply_usd: Decimal
    reminder_usd: Decimal

    @property
    def monthly_usd(self) -> Decimal:
        return _money(self.replies * self.reply_usd + self.reminders * self.reminder_usd)

    def as_dict(self) -> dict[str, object]:
        return {
            "market": self.market,
            "replies": self.replies,
            "reminders": self.reminders,
            "reply_usd": str(self.reply_usd),
            "reminder_usd": str(self.reminder_usd),
            "monthly_usd": str(self.monthly_usd),
        }

    def explain(self) -> list[str]:
        return [
            f"whatsapp      {self.replies:,} replies x ${self.reply_usd} + "
            f"{self.reminders:,} reminders x ${self.reminder_usd} (utility template, "
            f"{self.market}) = ${self.monthly_usd} a month"
        ]


def messages_estimate(
    *, customers: int, messages_per_customer: int, reminders_per_customer: int, phone: str
) -> MessagesEstimate:
    """Replies and reminders a month, priced like `phone`'s market (salonbot's rate
    table: `salonbot.cost.whatsapp_rates`)."""
    from salonbot.cost import whatsapp_rates

    if reminders_per_customer < 0:
        raise ValueError("counts must not be negative")
    return MessagesEstimate(
        market=whatsapp_rates.market_of(phone),
        replies=customers * messages_per_customer,
        reminders=customers * reminders_per_customer,
        reply_usd=whatsapp_rates.price(whatsapp_rates.SERVICE, phone),
        reminder_usd=whatsapp_rates.price(whatsapp_rates.UTILITY, phone),
    )
