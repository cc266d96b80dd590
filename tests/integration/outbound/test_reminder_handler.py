"""ReminderFunction invoked like EventBridge invokes it, with `events/scheduled-reminders.json`,
against a real PostgreSQL and the fake send API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from salonbot.booking import store
from salonbot.config import get_settings
from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection, reset_connection
from salonbot.errors import SalonbotError
from salonbot.observability import metrics
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.processor.harness import CUSTOMER, import_demo_salon
from tests.integration.test_scheduled_handlers import FakeContext, event, load_handler

pytestmark = pytest.mark.integration


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", server.url + "/v21.0")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-test-token-000")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    get_settings.cache_clear()
    reset_connection()
    yield server
    server.stop()
    get_settings.cache_clear()
    reset_connection()
    metrics.clear_metrics()


def booking_this_week(db: Connection, fake: FakeWhatsApp) -> store.Booking:
    """A booking in the coming week, reminded a week ahead, the customer's window open."""
    salon = import_demo_salon(db, reminders=[{"before_minutes": 7 * 24 * 60}])
    now = dt.datetime.now(dt.UTC)
    conversations.open_conversation(db, salon.id, CUSTOMER, now=now, inbound_at=now)
    fake.customer_wrote(CUSTOMER)
    booking = None
    for days in range(1, 7):
        day = (now + dt.timedelta(days=days)).astimezone(salon.tz).date()
        start = dt.datetime.combine(day, dt.time(11, 0), tzinfo=salon.tz)
        try:
            booking = store.create_booking(
                db, salon, phone=CUSTOMER, service_code="manicure", starts_at=start
            )
            break
        except SalonbotError:
            continue
    assert booking is not None
    db.commit()
    return booking


def test_the_handler_sends_due_reminders_once(db: Connection, fake: FakeWhatsApp) -> None:
    booking = booking_this_week(db, fake)
    # When EventBridge's event arrives twice
    handler = load_handler("reminders")
    first = handler.lambda_handler(event("scheduled-reminders.json"), FakeContext())
    second = handler.lambda_handler(event("scheduled-reminders.json"), FakeContext())
    # Then the reminder went out once
    assert first["reminders"]["sent"] == 1 and second["reminders"]["due"] == 0
    [message] = fake.sent
    assert booking.code in message.payload["interactive"]["body"]["text"]


def test_the_handler_stops_near_its_timeout(db: Connection, fake: FakeWhatsApp) -> None:
    booking_this_week(db, fake)
    handler = load_handler("reminders")
    result = handler.lambda_handler(
        event("scheduled-reminders.json"), FakeContext(remaining_ms=5_000)
    )
    # Nothing sent, the claim released: the next run sends it
    assert result["reminders"]["stopped_early"] and fake.sent == []
    assert db.execute("SELECT count(*) AS n FROM outbound_messages").fetchone() == {"n": 0}
    assert (
        handler.lambda_handler(event("scheduled-reminders.json"), FakeContext())["reminders"][
            "sent"
        ]
        == 1
    )
