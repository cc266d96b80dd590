"""`clean_text`, the one cleaning of every text salonbot takes in: NUL and the other
control characters (but tab and line breaks) dropped, surrogate pairs joined, lone
surrogates dropped, everything else as written."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salonbot.clean_text import clean_strings, clean_text

KEPT = "👩\u200d👩\u200d👧 ❤\ufe0f 🇷🇺 10\u00a0000 ₽"


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("Привет! Хочу на маникюр", "Привет! Хочу на маникюр"),
        ("При\x00вет\x00", "Привет"),
        ("\x00", ""),
        ("bell\x07 escape\x1b[31m del\x7f", "bell escape[31m del"),
        ("vertical\x0btab form\x0cfeed", "verticaltab formfeed"),
        ("строка 1\nстрока 2\r\n\tс отступом", "строка 1\nстрока 2\r\n\tс отступом"),
        # A surrogate pair given as two code points is the emoji it encodes ...
        ("ok \ud83d\ude00", "ok 😀"),
        # ... even with a control character between its halves; lone halves are dropped.
        ("\ud83d\x00\ude00", "😀"),
        ("broken \ud83d emoji", "broken  emoji"),
        ("\ude00 low first \ud83d", " low first "),
        ("\ud800\ud800\udc00", "\U00010000"),
        # What people write stays: joiners, variation selectors, flags, no-break spaces.
        (KEPT, KEPT),
        ("", ""),
    ],
    ids=[
        "plain",
        "nul",
        "only-nul",
        "controls",
        "vt-ff",
        "line-breaks-and-tab-kept",
        "pair-as-code-points",
        "pair-around-nul",
        "lone-high",
        "lone-low-and-high",
        "lone-then-pair",
        "emoji-sequences-kept",
        "empty",
    ],
)
def test_clean_text(text: str, cleaned: str) -> None:
    assert clean_text(text) == cleaned


def test_clean_text_returns_clean_text_itself() -> None:
    text = "Запишите меня к Анне на завтра"
    assert clean_text(text) is text


# Any code point, surrogates included, and often the ones cleaning is about.
ANY_TEXT = st.text(
    alphabet=st.characters(codec=None) | st.sampled_from("\x00\x07\x7f\t\n\ud83d\ude00\udc00")
)


@given(ANY_TEXT)
def test_any_text_comes_out_storable_and_cleaning_it_again_changes_nothing(text: str) -> None:
    cleaned = clean_text(text)

    cleaned.encode()  # UTF-8, as PostgreSQL stores it: no lone surrogate left
    assert "\x00" not in cleaned
    assert all(c in "\t\n\r" or (ord(c) >= 0x20 and c != "\x7f") for c in cleaned)
    assert clean_text(cleaned) == cleaned


@given(st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"])))
def test_text_without_controls_or_surrogates_is_kept_as_written(text: str) -> None:
    assert clean_text(text) == text


def test_clean_strings_cleans_every_string_of_decoded_json_keys_included() -> None:
    value: Any = {
        "content": "Есть время\x00 в понедельник.",
        "tool_calls": [{"name": "slots", "arguments": {"service\x00": ("manicure\x00", 1)}}],
        "cost": 0.25,
        "booking_code": None,
    }

    assert clean_strings(value) == {
        "content": "Есть время в понедельник.",
        "tool_calls": [{"name": "slots", "arguments": {"service": ["manicure", 1]}}],
        "cost": 0.25,
        "booking_code": None,
    }
