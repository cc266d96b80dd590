"""Which language to answer in: the script of the customer's own words first, then what
the conversation last used, then the salon's default."""

from __future__ import annotations

import re

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str, default: str) -> str:
    """'ru' for Cyrillic, 'en' for Latin letters, `default` when the text has neither
    (digits, emoji, a tap on a button)."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    if cyrillic == latin == 0:
        return default
    return "ru" if cyrillic >= latin else "en"
