"""Every message the salon sends is priced: replies and reminders when sent, repriced by
the status webhook's `pricing` object; stats show WhatsApp spend beside model spend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from salonbot.db.connection import Connection
from salonbot.stats import salon_stats
from salonbot.whatsapp.events import QueueEnvelope, StatusUpdate
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.outbound.test_reminders import (
    REMINDER_TEMPLATES,
    approve_all,
    book,
    run_once,
    salon_with_reminders,
)
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import CUSTOMER, DEMO_PHONE_NUMBER_ID, NOW, Clock

pytestmark = pytest.mark.integration
# Costs are stamped with the database's clock; the tests' fixed clock is years ahead.
ANY_TIME = (dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))


@pytest.fixture
def fake() -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    server.clock = lambda: NOW
    yield server
    server.stop()


def costs(db: Connection) -> list[dict[str, object]]:
    return db.execute(
        "SELECT category, market, price_usd, priced_by FROM message_costs ORDER BY created_at"
    ).fetchall()


def test_replies_and_reminders_are_priced_and_repriced_by_metas_pricing(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given a reply to the customer (a service message, free)
    salon = salon_with_reminders(db, whatsapp_templates=REMINDER_TEMPLATES)
    approve_all(db, fake, salon)
    harness = guided_harness(db, fake, clock=Clock(NOW))
    customer = Customer(harness, fake)
    replies = len(customer.say("Привет"))
    assert replies >= 1
    assert (
        costs(db)
        == [{"category": "service", "market": "russia", "price_usd": 0, "priced_by": "rate_table"}]
        * replies
    )
    # And a reminder template a day later, outside the window: a billed utility message
    book(db, salon, at=NOW.replace(day=9, hour=11))
    later = NOW + dt.timedelta(days=1, hours=5)
    assert run_once(database_url, fake, later).template == 1
    reminder = costs(db)[replies]
    assert reminder == {
        "category": "utility",
        "market": "russia",
        "price_usd": Decimal("0.0400"),
        "priced_by": "rate_table",
    }
    # When Meta's status says it was not billable after all (the customer had just written)
    wamid = fake.sent[-1].id
    status = StatusUpdate(
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        message_id=wamid,
        status="sent",
        recipient_id=CUSTOMER.lstrip("+"),
        timestamp=later,
        pricing_category="utility",
        pricing_type="free_customer_service",
    )
    harness.process(QueueEnvelope(event=status, enqueued_at=later).model_dump_json())
    repriced = costs(db)[replies]
    assert repriced["price_usd"] == 0 and repriced["priced_by"] == "pricing"
    # Then stats count both messages and the reminder
    stats = salon_stats(db, salon.id, *ANY_TIME)
    assert (stats.messages_sent, stats.reminders_sent) == (replies + 1, 1)
    assert stats.whatsapp_cost_usd == 0


def test_a_marketing_price_from_the_pricing_object(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    harness = guided_harness(db, fake, clock=Clock(NOW))
    status = StatusUpdate(
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        message_id="wamid.elsewhere.1",
        status="delivered",
        recipient_id="4915112345678",
        timestamp=NOW,
        pricing_category="marketing",
        pricing_type="regular",
    )
    harness.process(QueueEnvelope(event=status, enqueued_at=NOW).model_dump_json())
    assert costs(db) == [
        {
            "category": "marketing",
            "market": "germany",
            "price_usd": Decimal("0.1365"),
            "priced_by": "pricing",
        }
    ]
    stats = salon_stats(db, salon.id, *ANY_TIME)
    assert stats.whatsapp_cost_usd == Decimal("0.1365")
