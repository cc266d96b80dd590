"""Which thresholds a day's spend has crossed, and how the alert reads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from salonbot.config import Settings
from salonbot.cost.alerts import Alert, AlertPolicy, CostDriver, Spend


def spend(amount: str, budget: str | None = "5.00") -> Spend:
    return Spend(
        scope="salon:s1",
        name="Nail Studio Aurora",
        day=dt.date(2026, 3, 10),
        timezone="Europe/Moscow",
        spend_usd=Decimal(amount),
        budget_usd=Decimal(budget) if budget is not None else None,
        drivers=[CostDriver("+790***4567", Decimal("3.5"), 12_345, 8)],
    )


def test_policy_from_settings() -> None:
    policy = AlertPolicy.from_settings(
        Settings(budget_alert_thresholds="1.0, 0.5,0.8", cost_alert_usd=20)
    )
    assert policy.fractions == (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))
    assert policy.absolute_usd == Decimal(20)
    assert AlertPolicy.from_settings(Settings(cost_alert_usd=0)).absolute_usd is None


def test_crossed_thresholds_in_ascending_order() -> None:
    policy = AlertPolicy(absolute_usd=Decimal(50))
    assert [t.key for t in policy.crossed(spend("3.99"))] == []
    assert [t.key for t in policy.crossed(spend("4.00"))] == ["pct80"]
    assert [t.key for t in policy.crossed(spend("5.00"))] == ["pct80", "pct100"]
    assert [t.key for t in policy.crossed(spend("60", budget="100"))] == ["usd50"]
    assert [t.key for t in policy.crossed(spend("90", budget="100"))] == ["usd50", "pct80"]


def test_no_spend_no_alert_and_zero_budget_has_no_percentages() -> None:
    policy = AlertPolicy(absolute_usd=Decimal(50))
    assert policy.crossed(spend("0")) == []
    assert policy.crossed(spend("0.10", budget="0")) == []
    assert [t.key for t in policy.crossed(spend("51", budget=None))] == ["usd50"]


def test_alert_text_names_salon_spend_budget_and_drivers() -> None:
    s = spend("5.10")
    alert = Alert(s, tuple(AlertPolicy().crossed(s)))
    assert alert.subject == "salonbot: Nail Studio Aurora reached 100% of budget on 2026-03-10"
    assert alert.text.splitlines() == [
        "⚠️ salonbot: Nail Studio Aurora reached 100% of budget on 2026-03-10",
        "Salon: Nail Studio Aurora (s1)",
        "Day: 2026-03-10 (Europe/Moscow)",
        "Spend: $5.1000 of $5.00 budget (102%)",
        "Thresholds crossed: 80% of budget, 100% of budget",
        "Top cost drivers:",
        "  1. +790***4567: $3.5000, 12,345 tokens, 8 messages",
    ]
    assert len(Alert(spend("9", budget="5"), alert.crossed).subject) <= 100
