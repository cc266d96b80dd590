"""Russian word forms to their dictionary form ("подстригусь" -> "подстричься",
"ноготочки" -> "ноготочка"), for the words customers use for services.

`pymorphy3` with its OpenCorpora dictionary (pymorphy3-dicts-ru) is loaded on first use
only: measured on the development machine, loading the analyser takes about 0.15 s and
30 MB, and a word about 40 µs. Turns whose service is named plainly (the salon's own names
match by prefix and fuzzily) never load it; only a Cyrillic message that names no service
that way pays, once per container."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_CACHE_WORDS = 20_000


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    import pymorphy3  # type: ignore[import-untyped]

    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=_CACHE_WORDS)
def lemma(word: str) -> str:
    """The dictionary form of a lower-case Russian word (the word itself when unknown)."""
    parses = _analyzer().parse(word)
    return str(parses[0].normal_form).replace("ё", "е") if parses else word


def loaded() -> bool:
    """Whether this container has loaded the analyser (for tests and the benchmark)."""
    return _analyzer.cache_info().currsize > 0
