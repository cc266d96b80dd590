"""`confirm_required_after_no_shows`: a client with that many no-shows has each new booking
marked as needing confirmation, handed to the salon's staff, and reminded with a request
to confirm; other clients, and salons without the setting, are unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from salonbot.booking import store
from salonbot.booking.catalog import Salon
from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection, connect
from salonbot.outbound.reminders import ReminderRun
from salonbot.processing.pipeline import MessageProcessor
from salonbot.whatsapp.client import WhatsAppClient
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    NOW,
    OTHER_CUSTOMER,
    Clock,
    import_demo_salon,
    settings_for,
)

pytestmark = pytest.mark.integration


class Notices:
    """The staff topic, as a list."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def notify(self, salon: Any, **kwargs: Any) -> None:
        self.sent.append(kwargs)


@pytest.fixture
def fake() -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    server.clock = lambda: NOW
    yield server
    server.stop()


def no_shows(db: Connection, salon: Salon, phone: str, count: int) -> None:
    """`count` past visits of the customer the salon marked no-shows."""
    for n in range(count):
        day = NOW - dt.timedelta(days=7 * (n + 1))
        booking = store.create_booking(
            db,
            salon,
            phone=phone,
            service_code="manicure",
            starts_at=day.replace(hour=11),
            master_code="anna",
            now=day.replace(hour=9),
        )
        db.execute("UPDATE bookings SET status = 'no_show' WHERE id = %s", (booking.id,))
    db.commit()


def flagged(db: Connection, code: str) -> bool:
    row = db.execute("SELECT needs_confirmation FROM bookings WHERE code = %s", (code,)).fetchone()
    return bool(row and row["needs_confirmation"])


def book(db: Connection, salon: Salon, phone: str, hour: int) -> store.Booking:
    booking = store.create_booking(
        db,
        salon,
        phone=phone,
        service_code="manicure",
        starts_at=NOW.replace(day=8, hour=hour),
        master_code="anna",
        now=NOW,
    )
    db.commit()
    return booking


def test_a_client_with_enough_no_shows_needs_confirmation_and_others_do_not(
    db: Connection,
) -> None:
    salon = import_demo_salon(db, confirm_required_after_no_shows=2)
    no_shows(db, salon, CUSTOMER, 2)
    no_shows(db, salon, OTHER_CUSTOMER, 1)
    assert flagged(db, book(db, salon, CUSTOMER, 11).code)
    assert not flagged(db, book(db, salon, OTHER_CUSTOMER, 15).code)


def test_without_the_setting_no_booking_needs_confirmation(db: Connection) -> None:
    salon = import_demo_salon(db)
    no_shows(db, salon, CUSTOMER, 3)
    assert not flagged(db, book(db, salon, CUSTOMER, 11).code)


def test_a_bad_setting_is_refused() -> None:
    from salonbot.booking.salon_file import validate_salon
    from salonbot.errors import InvalidInput
    from tests.integration.processor.harness import demo_salon_data

    with pytest.raises(InvalidInput, match="confirm_required_after_no_shows"):
        validate_salon(demo_salon_data(confirm_required_after_no_shows=0))


def test_the_booking_is_handed_to_staff_and_its_reminder_asks_to_confirm(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given a client with two no-shows at a salon that requires confirmation after two
    salon = import_demo_salon(
        db, confirm_required_after_no_shows=2, reminders=[{"before_minutes": 1440}]
    )
    no_shows(db, salon, CUSTOMER, 2)
    harness = guided_harness(db, fake, clock=Clock(NOW))
    notices = Notices()
    harness.processor = MessageProcessor(
        harness.settings,
        assistant=harness.router,
        whatsapp=harness.whatsapp,
        staff=notices,  # type: ignore[arg-type]
        connection=lambda: db,
        clock=harness.clock,
    )
    customer = Customer(harness, fake)
    fake.customer_wrote(CUSTOMER, NOW)
    # When they book through the guided flow
    customer.say("Здравствуйте")
    for title in ("Записаться", "Маникюр", "Анна", "Завтра", "10:15", "Подтвердить"):
        customer.tap(title)
    [row] = db.execute("SELECT code FROM bookings WHERE status = 'confirmed'").fetchall()
    # Then the staff are told, once
    assert [n["reason"] for n in notices.sent] == ["needs_confirmation"]
    assert row["code"] in notices.sent[0]["text"]
    assert flagged(db, row["code"])
    # And the reminder asks them to confirm
    conversations.open_conversation(db, salon.id, CUSTOMER, now=NOW, inbound_at=NOW)
    db.commit()
    client = WhatsAppClient(settings_for(None, fake, whatsapp_max_retries=0))
    with connect(database_url) as conn:
        conn.autocommit = True
        result = ReminderRun(client, clock=lambda: NOW + dt.timedelta(hours=2)).run(conn)
    assert result.free_form == 1
    body = fake.sent[-1].payload["interactive"]["body"]["text"]
    assert "подтвердите, что придёте" in body and row["code"] in body
