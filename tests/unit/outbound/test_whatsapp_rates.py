"""WhatsApp's per-message rates by market and category."""

from __future__ import annotations

from decimal import Decimal

import pytest

from salonbot.cost import whatsapp_rates as rates


@pytest.mark.parametrize(
    ("phone", "market"),
    [
        ("+79001234567", "russia"),
        ("77011234567", "rest_of_central_eastern_europe"),  # Kazakhstan, not Russia
        ("+4915112345678", "germany"),
        ("+12025550123", "north_america"),
        ("+5511912345678", "other"),
        ("", "other"),
    ],
)
def test_markets_by_the_longest_calling_code(phone: str, market: str) -> None:
    assert rates.market_of(phone) == market


def test_prices_by_category() -> None:
    assert rates.price("marketing", "+79001234567") == Decimal("0.0802")
    assert rates.price("utility", "+79001234567") == Decimal("0.0400")
    assert rates.price("service", "+79001234567") == 0
    assert rates.price("utility", "+79001234567", billable=False) == 0
    assert rates.template_price("utility", "+79001234567", inside_window=True) == 0
    assert rates.template_price("marketing", "+79001234567", inside_window=True) > 0
    assert rates.price("referral_conversion", "+79001234567") == 0
