"""Model families, the request parameters each gets, the breaker, and the settings that
price a model the table does not know."""

from __future__ import annotations

import httpx2 as httpx
import openai
import pytest
from pydantic import ValidationError

from salonbot.assistant.breaker import ModelBreaker, access_failure
from salonbot.assistant.model_params import CompletionShape, is_reasoning_model
from salonbot.assistant.router import warn_if_unpriced
from salonbot.config import Settings


@pytest.mark.parametrize(
    ("model", "reasoning"),
    [
        ("o1", True),
        ("o3", True),
        ("o3-mini", True),
        ("o4-mini-2025-04-16", True),
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("gpt-5-nano-2025-08-07", True),
        ("gpt-5.1", True),
        ("openai/gpt-5-mini", True),
        ("gpt-5-chat-latest", False),
        ("gpt-4o-mini", False),
        ("gpt-4.1", False),
        ("omni-moderation-latest", False),
        ("llama-3.1-8b-instruct", False),
    ],
)
def test_reasoning_models_are_told_by_their_family_name(model: str, reasoning: bool) -> None:
    assert is_reasoning_model(model) is reasoning
    # the setting overrides the name either way
    assert is_reasoning_model(model, override=not reasoning) is (not reasoning)


def test_a_reasoning_model_gets_max_completion_tokens_and_no_temperature() -> None:
    shape = CompletionShape.for_settings(
        Settings(openai_model="gpt-5-mini", openai_reasoning_effort="minimal")
    )
    assert shape.max_tokens == 4000
    assert shape.params(8000) == {"max_completion_tokens": 8000, "reasoning_effort": "minimal"}
    chat = CompletionShape.for_settings(Settings(openai_reasoning_effort="minimal"))
    assert chat.params(1000) == {"max_tokens": 1000, "temperature": 0.7}


def _status_error(status: int, body: dict[str, object]) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(status, json={"error": body}, request=request)
    client = openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1/v1")
    return client._make_status_error("refused", body={"error": body}, response=response)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, {"type": "insufficient_quota", "code": "insufficient_quota"}, "quota"),
        (429, {"type": "insufficient_quota", "code": "credit_balance_exhausted"}, "quota"),
        (429, {"type": "requests", "code": "organization_spend_limit_exceeded"}, "quota"),
        (429, {"type": "requests", "code": "rate_limit_exceeded"}, None),
        (429, {"type": "tokens", "code": None}, None),
        (401, {"type": "invalid_request_error", "code": "invalid_api_key"}, "auth"),
        (400, {"type": "invalid_request_error", "code": "context_length_exceeded"}, None),
        (500, {"type": "server_error", "code": None}, None),
    ],
)
def test_only_no_quota_and_a_rejected_key_are_access_failures(
    status: int, body: dict[str, object], expected: str | None
) -> None:
    assert access_failure(_status_error(status, body)) == expected


def test_the_breaker_holds_a_model_for_its_minutes_then_lets_it_be_tried() -> None:
    now = [0.0]
    breaker = ModelBreaker(5, monotonic=lambda: now[0])
    breaker.trip("gpt-4o-mini", "quota")
    assert breaker.open_reason("gpt-4o-mini") == "quota"
    assert breaker.open_reason("gpt-4.1") is None
    now[0] = 299.0
    assert breaker.open_reason("gpt-4o-mini") == "quota"
    now[0] = 300.0
    assert breaker.open_reason("gpt-4o-mini") is None
    off = ModelBreaker(0)
    off.trip("gpt-4o-mini", "auth")
    assert off.open_reason("gpt-4o-mini") is None


def test_prices_of_an_unknown_model_come_in_pairs() -> None:
    with pytest.raises(ValidationError, match="set together"):
        Settings(openai_price_input_per_mtok="0.1")
    with pytest.raises(ValidationError):
        Settings(openai_price_input_per_mtok="-1", openai_price_output_per_mtok="1")
    Settings.from_env({"OPENAI_PRICE_INPUT_PER_MTOK": "0.1", "OPENAI_PRICE_OUTPUT_PER_MTOK": "0.2"})


def test_an_unknown_model_is_warned_of_at_start(caplog: pytest.LogCaptureFixture) -> None:
    assert warn_if_unpriced(Settings()) is None
    warning = warn_if_unpriced(Settings(openai_model="my-vllm-model"))
    assert warning is not None and "my-vllm-model" in warning
    assert "most expensive known rate" in warning
    priced = Settings(
        openai_model="my-vllm-model",
        openai_price_input_per_mtok="0.1",
        openai_price_output_per_mtok="0.2",
    )
    assert warn_if_unpriced(priced) is None
