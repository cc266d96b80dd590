"""Logs never carry a phone number in clear, not even inside a conversation id."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aws_lambda_powertools import Logger

from salonbot.conversation.store import conversation_id
from salonbot.observability import correlation_ids, mask_conversation_id, mask_phone


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
