"""Logs never carry a phone number in clear, not even inside a conversation id; metrics
switched off print nothing, and an invocation that counts nothing warns of nothing."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from salonbot.conversation.store import conversation_id
from salonbot.observability import (
    MetricName,
    correlation_ids,
    count_error,
    mask_conversation_id,
    mask_phone,
    metrics,
)


def test_phone_masks_keep_the_last_four_digits_at_most() -> None:
    assert mask_phone("+79001234567") == "***4567"
    assert mask_phone("79001234567") == "***4567"
    assert mask_phone("+49 151 0000 0001") == "***0001"
    assert mask_phone("12") == "***"
    assert mask_phone("+1234567") == "***"  # too short: four digits would be half of it
    assert mask_phone(None) == ""


@pytest.mark.parametrize("phone", ["+79001234567", "+4915100000001", "+12025550123", "+3712345678"])
def test_a_masked_phone_has_four_of_its_digits_and_nothing_else_of_it(phone: str) -> None:
    masked = mask_phone(phone)
    digits = [c for c in masked if c.isdigit()]
    assert len(digits) <= 4
    assert "".join(digits) == phone[-4:]
    assert phone[:5] not in masked  # neither the country nor the operator code


def test_conversation_ids_are_masked_in_correlation_keys() -> None:
    cid = conversation_id("3f0c1a52-0000-4000-8000-000000000001", "+79001234567")
    keys = correlation_ids(message_id="wamid.1", conversation_id=cid)
    assert keys["message_id"] == "wamid.1"
    assert "79001234567" not in keys["conversation_id"]
    assert keys["conversation_id"] == mask_conversation_id(cid)
    assert keys["conversation_id"].startswith("conv_3f0c1a52-0000-4000-8000-000000000001_")
    assert keys["conversation_id"].endswith("4567")


def test_ids_without_a_phone_are_kept() -> None:
    assert mask_conversation_id("test_conv_001") == "test_conv_001"
    assert mask_conversation_id("") == ""


def test_a_log_line_with_the_keys_has_no_phone() -> None:
    stream = io.StringIO()
    log = Logger(service="mask-test", logger_handler=logging.StreamHandler(stream))
    cid = conversation_id("salon", "+79001234567")
    log.append_keys(**correlation_ids(conversation_id=cid))
    log.info("turn done")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert "9001234567" not in stream.getvalue()
    assert line["conversation_id"] == "conv_salon_***4567"


# -- metrics: what the settings say -----------------------------------------------------


@dataclass
class FakeContext:
    function_name: str = "salonbot-test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:salonbot-test"
    aws_request_id: str = "req-1"


@pytest.fixture
def fresh_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    from aws_lambda_powertools.metrics.provider import cold_start

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    metrics.clear_metrics()
    yield monkeypatch
    metrics.clear_metrics()


def busy_handler(values: int) -> Callable[[dict[str, Any], Any], str]:
    """A handler as functions/*/app.py write them, counting `values` things and an error."""

    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> str:
        for _ in range(values):
            metrics.add_metric(name=MetricName.MESSAGES_RECEIVED, unit=MetricUnit.Count, value=1)
        count_error("test")
        return "done"

    return handler


def test_disabled_metrics_print_nothing_at_all(
    fresh_metrics: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given metrics switched off, as the local stack and the benchmarks switch them off
    fresh_metrics.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    handler = busy_handler(values=150)  # past Powertools' 100-value flush

    # When a cold invocation counts things, an error included, and another with nothing
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert handler({}, FakeContext()) == "done"
        assert busy_handler(values=0)({}, FakeContext()) == "done"

    # Then no EMF line (not the cold start, not the overflow, not the error) and no warning
    assert capsys.readouterr().out == ""
    assert [str(w.message) for w in warned] == []
    assert metrics.metric_set == {}


def test_enabled_metrics_still_publish_and_an_empty_flush_is_quiet(
    fresh_metrics: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        busy_handler(values=2)({}, FakeContext())
        metrics.flush_metrics()  # nothing left to publish: a health check's invocation

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    published = {name for line in lines for name in line if name[0].isupper()}
    assert {"ColdStart", MetricName.MESSAGES_RECEIVED, MetricName.ERRORS} <= published
    assert [str(w.message) for w in warned] == []
