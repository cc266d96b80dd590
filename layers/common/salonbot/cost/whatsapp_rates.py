"""What a WhatsApp message costs: Meta's per-message rate card by market and category.

Source: Meta, "Pricing on the WhatsApp Business Platform"
(https://developers.facebook.com/docs/whatsapp/pricing) and its rate card (USD, per
delivered message, effective 1 July 2025), as republished market by market in e.g.
https://docs.sent.dm/docs/guides/whatsapp-pricing. Rates change a few times a year:
check the current card and update `RATES` (one line a market) when Meta announces one.

Under that card a template message is charged by its category (marketing, utility,
authentication) and the recipient's country calling code; a non-template message
(`service`) is free, and so is a utility template delivered inside the customer's
24-hour window. The status webhook's `pricing` object, when Meta sends it, says which
category a message was billed as and whether it was billable (`type` `regular` vs
`free_customer_service` / `free_entry_point`); the price itself comes from this table."""

from __future__ import annotations

from decimal import Decimal

SERVICE, UTILITY, MARKETING, AUTHENTICATION = "service", "utility", "marketing", "authentication"
OTHER = "other"

# market: (marketing, utility, authentication), USD per delivered template message.
RATES: dict[str, tuple[Decimal, Decimal, Decimal]] = {
    "russia": (Decimal("0.0802"), Decimal("0.0400"), Decimal("0.0400")),
    "germany": (Decimal("0.1365"), Decimal("0.0550"), Decimal("0.0550")),
    "united_kingdom": (Decimal("0.0529"), Decimal("0.0220"), Decimal("0.0220")),
    "india": (Decimal("0.0107"), Decimal("0.0014"), Decimal("0.0014")),
    "north_america": (Decimal("0.0250"), Decimal("0.0040"), Decimal("0.0040")),
    "rest_of_central_eastern_europe": (
        Decimal("0.0860"),
        Decimal("0.0212"),
        Decimal("0.0212"),
    ),
    "rest_of_western_europe": (Decimal("0.0592"), Decimal("0.0171"), Decimal("0.0171")),
    OTHER: (Decimal("0.0604"), Decimal("0.0077"), Decimal("0.0077")),
}

# Country calling codes to markets, longest prefix first when looked up.
MARKETS: dict[str, str] = {
    "7": "russia",  # +7: Russia (Kazakhstan's +77 below)
    "77": "rest_of_central_eastern_europe",
    "49": "germany",
    "44": "united_kingdom",
    "91": "india",
    "1": "north_america",
    "374": "rest_of_central_eastern_europe",  # Armenia
    "375": "rest_of_central_eastern_europe",  # Belarus
    "380": "rest_of_central_eastern_europe",  # Ukraine
    "994": "rest_of_central_eastern_europe",  # Azerbaijan
    "995": "rest_of_central_eastern_europe",  # Georgia
    "998": "rest_of_central_eastern_europe",  # Uzbekistan
    "43": "rest_of_western_europe",  # Austria
    "41": "rest_of_western_europe",  # Switzerland
    "45": "rest_of_western_europe",  # Denmark
    "353": "rest_of_western_europe",  # Ireland
}
_LONGEST = max(len(prefix) for prefix in MARKETS)
_COLUMN = {MARKETING: 0, UTILITY: 1, AUTHENTICATION: 2, "authentication-international": 2}


def market_of(phone: str) -> str:
    """The rate card's market of a number (E.164, `+` optional); `other` if unlisted."""
    digits = phone.strip().lstrip("+")
    for length in range(min(_LONGEST, len(digits)), 0, -1):
        market = MARKETS.get(digits[:length])
        if market is not None:
            return market
    return OTHER


def price(category: str, phone: str, *, billable: bool = True) -> Decimal:
    """USD for one delivered message of `category` to `phone`. Service messages and
    anything Meta says is not billable cost nothing."""
    column = _COLUMN.get(category)
    if not billable or column is None:
        return Decimal(0)
    return RATES[market_of(phone)][column]


def template_price(category: str, phone: str, *, inside_window: bool) -> Decimal:
    """A template's price: a utility template inside the customer's window is free."""
    return price(category, phone, billable=not (category == UTILITY and inside_window))
