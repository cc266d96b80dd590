"""Logs never carry a phone number in clear, not even inside a conversation id."""

from __future__ import annotations

import io
import json
import logging

from aws_lambda_powertools import Logger

from salonbot.conversation.store import conversation_id
from salonbot.observability import correlation_ids, mask_conversation_id, mask_phone


def test_phone_masks_keep_only_the_ends() -> None:
    assert mask_phone("+79001234567") == "+790***4567"
    assert mask_phone("12") == "***"
    assert mask_phone(None) == ""


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
    assert line["conversation_id"] == "conv_salon_7900***4567"
