"""The guided flow's reading of free text: a table of Russian and English phrasings."""

from __future__ import annotations

import pytest

from salonbot.assistant.parsing import parse_message
from tests.unit.guided_phrases import ENGLISH, NOW, RUSSIAN, Phrase, demo_salon

SALON = demo_salon()


def _read(phrase: Phrase) -> dict[str, object]:
    parsed = parse_message(phrase.text, SALON, NOW)
    return {
        "services": parsed.services,
        "master": parsed.master,
        "date": parsed.when.date,
        "time": parsed.when.time,
        "after": parsed.when.after,
        "intent": phrase.intent if phrase.intent in parsed.intents else sorted(parsed.intents),
    }


def _expected(phrase: Phrase) -> dict[str, object]:
    return {
        "services": phrase.services,
        "master": phrase.master,
        "date": phrase.date,
        "time": phrase.time,
        "after": phrase.after,
        "intent": phrase.intent if phrase.intent else _read(phrase)["intent"],
    }


def test_the_table_is_as_large_as_promised() -> None:
    assert len(RUSSIAN) >= 60 and len(ENGLISH) >= 40


@pytest.mark.parametrize("phrase", RUSSIAN, ids=[p.text for p in RUSSIAN])
def test_russian_phrasings(phrase: Phrase) -> None:
    assert _read(phrase) == _expected(phrase)


@pytest.mark.parametrize("phrase", ENGLISH, ids=[p.text for p in ENGLISH])
def test_english_phrasings(phrase: Phrase) -> None:
    assert _read(phrase) == _expected(phrase)
