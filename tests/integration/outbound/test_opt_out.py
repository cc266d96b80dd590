"""Opting out of a salon's reminders ("STOP", "стоп", ...) and back in ("START"): per
salon, confirmed once, in every state of the conversation, honoured by the reminder run;
WhatsApp's 131050 stops marketing only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from salonbot import texts
from salonbot.conversation import handoff
from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.outbound.test_reminders import book, run_once, salon_with_reminders
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import CUSTOMER, NOW, Clock

pytestmark = pytest.mark.integration


@pytest.fixture
def fake() -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    server.clock = lambda: NOW
    server.customer_wrote(CUSTOMER, NOW)
    yield server
    server.stop()


def phrase(key: str) -> set[str]:
    """The phrase in either language (a customer writing "STOP" is answered in English)."""
    return {texts.phrases(lang)[key].format(salon="Nail Studio Aurora") for lang in ("ru", "en")}


def opt_outs(db: Connection) -> list[dict[str, object]]:
    return db.execute("SELECT phone, scope, source FROM opt_outs").fetchall()


@pytest.mark.parametrize("word", ["STOP", "стоп", "Отписаться!", " unsubscribe "])
def test_an_opt_out_word_in_any_case_stops_reminders_and_is_confirmed_once(
    db: Connection, database_url: str, fake: FakeWhatsApp, word: str
) -> None:
    salon = salon_with_reminders(db)
    customer = Customer(guided_harness(db, fake, clock=Clock(NOW)), fake)
    customer.say("Привет")
    book(db, salon)
    # When the customer opts out
    customer.say(word)
    assert customer.text in phrase("opted_out")
    assert opt_outs(db) == [{"phone": CUSTOMER, "scope": "all", "source": "customer"}]
    # Then saying it again is acknowledged, not confirmed a second time
    customer.say(word)
    assert customer.text in phrase("already_opted_out")
    # And no reminder goes out
    result = run_once(database_url, fake, NOW + dt.timedelta(hours=5))
    assert result.opted_out == 1 and result.sent == 0
    assert fake.texts_to(CUSTOMER)[-1] in phrase("already_opted_out")


def test_stop_wins_during_a_hand_off_and_start_brings_reminders_back(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    customer = Customer(guided_harness(db, fake, clock=Clock(NOW)), fake)
    customer.say("Привет")
    conversation = conversations.open_conversation(db, salon.id, CUSTOMER, now=NOW)
    handoff.start(db, conversation.id, until=NOW + dt.timedelta(hours=2))
    db.commit()
    # With staff, a question gets no bot answer, but STOP is answered at once
    assert customer.say("STOP") and customer.text in phrase("opted_out")
    # Opting back in
    customer.say("start")
    assert customer.text in phrase("opted_in")
    assert opt_outs(db) == []
    book(db, salon)
    assert run_once(database_url, fake, NOW + dt.timedelta(hours=5)).sent == 1


def test_opt_out_is_per_salon(db: Connection, database_url: str, fake: FakeWhatsApp) -> None:
    salon = salon_with_reminders(db)
    other = salon_with_reminders(
        db, id="3f0c1a52-0000-4000-8000-0000000000c2", whatsapp_phone_number_id="100000000000002"
    )
    customer = Customer(guided_harness(db, fake, clock=Clock(NOW)), fake)
    customer.say("стоп")
    rows = db.execute("SELECT salon_id FROM opt_outs").fetchall()
    assert rows == [{"salon_id": salon.id}] and other.id != salon.id


def test_whatsapps_marketing_opt_out_131050_is_stored_and_reminders_continue(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    conversations.open_conversation(db, salon.id, CUSTOMER, now=NOW, inbound_at=NOW)
    db.commit()
    book(db, salon)
    fake.script(400, 131050)
    result = run_once(database_url, fake, NOW + dt.timedelta(hours=5))
    assert result.failed == 1
    assert opt_outs(db) == [{"phone": CUSTOMER, "scope": "marketing", "source": "whatsapp"}]
    # A marketing-only opt-out does not stop reminders of the customer's own visits
    book(db, salon, at=NOW.replace(day=8, hour=15))
    assert run_once(database_url, fake, NOW + dt.timedelta(hours=6)).sent == 1


def test_forgetting_the_customer_erases_their_reminders_and_opt_out(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    from salonbot.privacy.erasure import forget_customer

    salon = salon_with_reminders(db)
    conversations.open_conversation(db, salon.id, CUSTOMER, now=NOW, inbound_at=NOW)
    db.commit()
    book(db, salon)
    assert run_once(database_url, fake, NOW + dt.timedelta(hours=5)).sent == 1
    Customer(guided_harness(db, fake, clock=Clock(NOW)), fake).say("стоп")
    report = forget_customer(db, salon.id, CUSTOMER, now=NOW)
    assert report.postgresql["outbound_messages"] == 1 and report.postgresql["opt_outs"] == 1
    assert opt_outs(db) == []
    assert db.execute("SELECT count(*) AS n FROM outbound_messages").fetchone() == {"n": 0}
