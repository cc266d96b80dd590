"""The words that opt a customer out of reminders and back in, in any case."""

from __future__ import annotations

import pytest

from salonbot.outbound.lexicon import is_opt_in, is_opt_out, reminder_answer


@pytest.mark.parametrize("text", ["STOP", "stop", "Стоп", "СТОП!", "отписаться", " Unsubscribe."])
def test_opt_out_words(text: str) -> None:
    assert is_opt_out(text) and not is_opt_in(text)


@pytest.mark.parametrize("text", ["stop by tomorrow?", "не стоп", "", None, "стопка"])
def test_a_sentence_with_the_word_is_not_an_opt_out(text: str | None) -> None:
    assert not is_opt_out(text)


@pytest.mark.parametrize("text", ["START", "start", "Старт"])
def test_opt_in_words(text: str) -> None:
    assert is_opt_in(text)


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("Да!", "confirm"),
        ("ok", "confirm"),
        ("Отменить", "cancel"),
        ("не приду", "cancel"),
        ("перенести", "move"),
        ("нет", None),  # too vague to cancel a booking on
        ("да, но можно позже?", None),
    ],
)
def test_short_answers_to_a_quoted_reminder(text: str, action: str | None) -> None:
    assert reminder_answer(text) == action
