"""`salonbot cost-estimate`: the guide's calculator from the guard's own price table."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from salonbot.cost.estimate import monthly_estimate
from salonbot.cost.pricing import PRICES, UNKNOWN_MODEL_RATE, price_for, quote
from salonbot_dev.cli import main


def test_the_guide_example_at_gpt4_list_prices() -> None:
    # 100 customers x 3 messages x 500 tokens, 20% of them completion tokens
    e = monthly_estimate(customers=100, messages_per_customer=3, model="gpt-4")
    assert e.requests == 300
    assert (e.prompt_tokens, e.completion_tokens) == (120_000, 30_000)
    # 120k x $30/1M + 30k x $60/1M
    assert e.monthly_usd == Decimal("5.4000")
    assert e.per_request_usd == Decimal("0.0180")
    assert (e.all_prompt_usd, e.all_completion_usd) == (Decimal("4.5000"), Decimal("9.0000"))
    assert e.scaled(1_000) == Decimal("54.0000")
    # The guide's own figure is shown beside it, not reproduced
    assert e.guide_monthly_usd == Decimal(45)
    assert any("~$45" in line and "$9.00" in line for line in e.explain())


def test_the_estimate_uses_the_guards_price_table() -> None:
    for model in ("gpt-4o-mini", "gpt-3.5-turbo", "gpt-4.1"):
        e = monthly_estimate(
            customers=1000, messages_per_customer=5, model=model, tokens_per_message=800
        )
        price = price_for(model)
        total = 1000 * 5 * 800
        expected = price.cost(total - total // 5, total // 5)
        assert e.monthly_usd == expected.quantize(Decimal("0.0001"))
        assert e.guide_monthly_usd is None


def test_an_unknown_model_is_priced_at_the_most_expensive_rate_with_a_warning() -> None:
    e = monthly_estimate(customers=10, messages_per_customer=1, model="gpt-unknown")
    # every one of its prices the table's highest: never cheaper than a known model
    assert e.priced_as == UNKNOWN_MODEL_RATE
    assert e.input_usd_per_million == max(p.input for p in PRICES.values())
    assert e.output_usd_per_million == max(p.output for p in PRICES.values())
    assert e.warning is not None and "gpt-unknown" in e.warning
    assert "OPENAI_PRICE_INPUT_PER_MTOK" in e.warning
    # a known model, or one priced by the settings, carries no warning
    assert (
        monthly_estimate(customers=1, messages_per_customer=1, model="gpt-5-mini").warning is None
    )
    priced = monthly_estimate(
        customers=1000,
        messages_per_customer=1,
        model="llama-3.1-8b",
        input_per_mtok=Decimal("0.05"),
        output_per_mtok=Decimal("0.08"),
    )
    assert priced.warning is None
    # 400k prompt x $0.05 + 100k completion x $0.08, per 1M
    assert priced.monthly_usd == Decimal("0.0280")


@pytest.mark.parametrize(
    ("model", "entry", "prices"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", ("0.15", "0.075", "0.60")),
        ("gpt-4o", "gpt-4o", ("2.50", "1.25", "10.00")),
        ("gpt-4.1", "gpt-4.1", ("2.00", "0.50", "8.00")),
        ("gpt-4.1-mini", "gpt-4.1-mini", ("0.40", "0.10", "1.60")),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano", ("0.10", "0.025", "0.40")),
        ("o4-mini", "o4-mini", ("1.10", "0.275", "4.40")),
        ("o3", "o3", ("2.00", "0.50", "8.00")),
        ("gpt-5", "gpt-5", ("1.25", "0.125", "10.00")),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini", ("0.25", "0.025", "2.00")),
        ("gpt-5-nano", "gpt-5-nano", ("0.05", "0.005", "0.40")),
    ],
)
def test_current_models_have_their_list_prices(
    model: str, entry: str, prices: tuple[str, str, str]
) -> None:
    priced = quote(model)
    assert priced.known and priced.priced_as == entry
    assert (priced.price.input, priced.price.cached_input, priced.price.output) == tuple(
        Decimal(p) for p in prices
    )


def test_cli_warns_of_an_unknown_model_and_prices_it_by_the_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["cost-estimate", "--customers", "10", "--messages-per-customer", "1"]
    assert main([*argv, "--model", "my-local-model", "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning: model 'my-local-model' is not in the price table" in captured.err
    data = json.loads(captured.out)
    assert data["priced_as"] == UNKNOWN_MODEL_RATE and data["warning"]
    monkeypatch.setenv("OPENAI_PRICE_INPUT_PER_MTOK", "1")
    monkeypatch.setenv("OPENAI_PRICE_OUTPUT_PER_MTOK", "2")
    assert main([*argv, "--model", "my-local-model", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    data = json.loads(captured.out)
    assert (data["input_usd_per_million"], data["output_usd_per_million"]) == ("1", "2")
    assert data["warning"] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": -1},
        {"messages_per_customer": -2},
        {"completion_share": Decimal("1.5")},
    ],
)
def test_invalid_inputs_are_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"customers": 1, "messages_per_customer": 1, "model": "gpt-4"}
    with pytest.raises(ValueError):
        monthly_estimate(**{**args, **kwargs})  # type: ignore[arg-type]


def test_cli_prints_the_computation_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost-estimate", "--customers", "100", "--messages-per-customer", "3"]
    assert main([*argv, "--model", "gpt-3.5-turbo"]) == 0
    out = capsys.readouterr().out
    # One utility reminder a customer a month at Russia's rate ($0.04); replies are free.
    assert "Monthly cost estimate: $4.1050 (model $0.1050, WhatsApp $4.0000)" in out
    assert "300 replies x $0 + 100 reminders x $0.0400" in out
    assert "deployment guide says ~$3" in out
    assert main([*argv, "--model", "gpt-4", "--tokens-per-message", "1000", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["monthly_usd"] == "10.8000"
    assert data["scaling"]["10000"] == "1080.0000"
    assert data["whatsapp"] == {
        "market": "russia",
        "replies": 300,
        "reminders": 100,
        "reply_usd": "0",
        "reminder_usd": "0.0400",
        "monthly_usd": "4.0000",
    }
    india = [*argv, "--model", "gpt-4", "--phone-prefix", "+91", "--reminders-per-customer", "2"]
    assert main([*india, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["whatsapp"]["monthly_usd"] == "0.2800"
    assert data["guide_monthly_usd"] is None


def test_cli_rejects_bad_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost-estimate", "--customers", "1", "--messages-per-customer", "1", "--model", "x"]
    assert main([*argv, "--completion-share", "lots"]) == 2
    assert "--completion-share" in capsys.readouterr().err
