"""What a handed-off customer's message is told, from the conversation's notice times."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

from salonbot.assistant.parsing import returns_to_bot
from salonbot.conversation.handoff import ACK, WAIT, notice_due
from salonbot.conversation.store import HANDOFF, Conversation

NOW = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
QUARTER = dt.timedelta(minutes=15)
HANDED_OFF = Conversation(
    id="conv_x",
    salon_id=uuid.uuid4(),
    phone_number="+79001234567",
    status=HANDOFF,
    handoff_until=NOW + dt.timedelta(days=1),
    language="ru",
    state={},
    message_count=3,
    booking_count=0,
    created=False,
)


def at(minutes: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("told", "replied", "now", "due"),
    [
        (None, None, 0, WAIT),  # the first message of the hand-off
        (None, 0, 1, None),  # staff replied a minute ago: they are answering
        (None, 0, 16, WAIT),  # no staff reply for a quarter of an hour: told once
        (0, None, 5, None),  # told a moment ago
        (0, None, 15, ACK),  # a quarter of an hour without a staff reply
        (0, 10, 20, None),  # staff replied 10 minutes ago: they are talking
        (0, 10, 25, ACK),
        (30, None, 5, WAIT),  # a notice stamped in the future (clock set back)
    ],
)
def test_notices_are_bounded_and_quiet_while_staff_answer(
    told: float | None, replied: float | None, now: float, due: str | None
) -> None:
    conversation = dataclasses.replace(
        HANDED_OFF,
        handoff_notice_at=None if told is None else at(told),
        staff_replied_at=None if replied is None else at(replied),
    )

    assert notice_due(conversation, at(now), QUARTER) == due


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("меню", True),
        ("Меню!", True),
        ("бот", True),
        ("MENU", True),
        ("в меню", True),
        ("back to the bot", True),
        ("покажите меню услуг и цены", False),
        ("бот тупит, позовите человека", False),
    ],
)
def test_only_the_word_alone_gives_the_bot_back(text: str, back: bool) -> None:
    assert returns_to_bot(text) is back
