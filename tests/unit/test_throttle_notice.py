"""What a throttled message gets, without DynamoDB or a database: the notice in the
language the turn already knows (the customer's words, else the conversation's, else the
salon's), read from the catalogue, with no query of its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from salonbot.assistant.base import TurnInput, TurnResult
from salonbot.assistant.throttle import Decision, ThrottledAssistant, ThrottledResult, Verdict
from salonbot.texts import phrases
from salonbot.whatsapp.events import CustomerMessage
from tests.unit.guided_phrases import demo_salon

SENT_AT = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)


class NoDatabase:
    """A connection that fails the test if the throttle touches it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the throttle used the connection ({name})")


class Counted:
    """A counter that gives every message the same verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    def check(self, salon_id: str, phone: str, message_id: str | None = None) -> Decision:
        return Decision(self.verdict, 11, 30)


class Unreachable:
    def respond(self, conn: Any, turn: TurnInput) -> TurnResult:
        raise AssertionError("a throttled message reached the engine")


def throttled(verdict: Verdict, text: str, conversation_language: str | None) -> ThrottledResult:
    assistant = ThrottledAssistant(Unreachable(), Counted(verdict))  # type: ignore[arg-type]
    message = CustomerMessage(
        wa_id="79001234567", timestamp=SENT_AT, text=text, message_id="wamid.11"
    )
    turn = TurnInput(
        salon=demo_salon(),
        conversation_id="conv_demo_79001234567",
        message=message,
        conversation_language=conversation_language,
    )
    result = assistant.respond(NoDatabase(), turn)  # type: ignore[arg-type]
    assert isinstance(result, ThrottledResult)
    return result


@pytest.mark.parametrize(
    ("text", "conversation_language", "expected"),
    [
        ("Hi again", "ru", "en"),  # the customer's own words first
        ("Ещё раз", "en", "ru"),
        ("10:00", "en", "en"),  # no words: the conversation's language
        ("👍", None, "ru"),  # nothing known: the salon's (the demo salon is Russian)
    ],
)
def test_notice_speaks_the_turns_language_without_a_query(
    text: str, conversation_language: str | None, expected: str
) -> None:
    result = throttled("notice", text, conversation_language)
    assert [m.body for m in result.messages] == [phrases(expected)["throttled"]]
    assert result.language == expected
    assert (result.engine, result.notes) == ("fixed", ["throttled: notice"])
    assert result.decision.retry_after_s == 30


def test_a_silenced_message_gets_nothing() -> None:
    result = throttled("silent", "Hi again", "en")
    assert result.messages == []
    assert result.notes == ["throttled: silent"]
