"""What `salonbot chat` says while a message has no reply, read from the database: "with
staff" when the salon's assistant is off or a hand-off is running, else "waiting for the
assistant"."""

from __future__ import annotations

import datetime as dt

import pytest

from salonbot.conversation.handoff import start as start_handoff
from salonbot.conversation.store import open_conversation
from salonbot.db.connection import Connection
from salonbot_dev.cli.chat import why_waiting
from tests.integration.salon_builder import BERLIN_SALON_ID, berlin_salon

pytestmark = pytest.mark.integration

CUSTOMER = "+4915100000009"


def test_an_active_conversation_is_waiting_for_the_assistant(
    db: Connection, database_url: str
) -> None:
    berlin_salon(db, ai_enabled=True)
    open_conversation(db, BERLIN_SALON_ID, CUSTOMER)
    db.commit()

    said = why_waiting(database_url, str(BERLIN_SALON_ID), CUSTOMER)
    first_contact = why_waiting(database_url, str(BERLIN_SALON_ID), "+4915100000010")

    assert said.startswith("waiting for the assistant")
    assert first_contact == said


def test_a_salon_with_its_assistant_off_is_with_staff(db: Connection, database_url: str) -> None:
    berlin_salon(db, ai_enabled=False)
    db.commit()

    said = why_waiting(database_url, str(BERLIN_SALON_ID), CUSTOMER)

    assert said.startswith("with staff: this salon's assistant is off")


def test_a_handed_off_conversation_is_with_staff_until_it_ends(
    db: Connection, database_url: str
) -> None:
    berlin_salon(db, ai_enabled=True)
    conversation = open_conversation(db, BERLIN_SALON_ID, CUSTOMER)
    start_handoff(db, conversation.id, until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    db.commit()
    during = why_waiting(database_url, str(BERLIN_SALON_ID), CUSTOMER)

    start_handoff(db, conversation.id, until=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    db.commit()
    after = why_waiting(database_url, str(BERLIN_SALON_ID), CUSTOMER)

    assert during.startswith("with staff: the conversation was handed to the salon's staff until")
    assert after.startswith("waiting for the assistant")
