"""Which language to answer in: the customer's own words first (their script; Russian
written in Latin letters is Russian), then what the conversation last used, then the
salon's default."""

from __future__ import annotations

import re

from salonbot.assistant.lexicon import looks_translit

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")
# Words both languages use: they keep the language the conversation speaks.
_NEUTRAL = re.compile(r"^\W*(ok|okay|okey|ок|окей)\W*$", re.IGNORECASE)


def detect_language(text: str, default: str) -> str:
    """'ru' for Cyrillic and for Russian in Latin letters ("privet, hochu na manikur"),
    'en' for other Latin letters, `default` when the text has neither (digits, emoji, a
    tap on a button) or is a word both use ("ok")."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    if cyrillic == latin == 0 or _NEUTRAL.match(text):
        return default
    if cyrillic >= latin or looks_translit(text):
        return "ru"
    return "en"
