"""A manicure and a pedicure in one message, through the processor on PostgreSQL without a
model: one visit, back to back, the master's time held by the database for each item."""

from __future__ import annotations

import datetime as dt

import pytest

from salonbot.db.connection import Connection
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import MOSCOW, bookings_of, import_demo_salon, rows

pytestmark = pytest.mark.integration


def test_manicure_and_pedicure_on_saturday_in_one_message_is_one_visit(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the demo salon (Anna does both, Maria only manicures) and no model
    import_demo_salon(db)
    customer = Customer(guided_harness(db, fake_whatsapp), fake_whatsapp)

    # When the customer asks for both on Saturday and confirms the first time offered
    customer.say("Хочу маникюр и педикюр в субботу")
    assert "Маникюр + Педикюр" in customer.text
    first = customer.titles()[0]
    customer.tap(first)
    assert "Маникюр + Педикюр" in customer.text and "4300 RUB" in customer.text
    customer.tap("Подтвердить")

    # Then one booking holds two items back to back on Saturday, each blocking its master
    (booking,) = bookings_of(db)
    items = rows(
        db,
        "SELECT s.code AS service, m.code AS master, i.starts_at, i.ends_at, i.blocked_until "
        "FROM booking_items i JOIN bookings b ON b.id = i.booking_id "
        "JOIN services s ON s.id = i.service_id JOIN masters m ON m.id = i.master_id "
        "WHERE b.code = %s ORDER BY i.position",
        booking["code"],
    )
    # (the first master free for each: Maria manicures, only Anna does pedicures)
    assert [(i["service"], i["master"]) for i in items] == [
        ("manicure", "maria"),
        ("pedicure", "anna"),
    ]
    start = items[0]["starts_at"].astimezone(MOSCOW)
    assert (start.date(), f"{start:%H:%M}") == (dt.date(2030, 1, 12), first)
    assert items[1]["starts_at"] == items[0]["ends_at"]
    assert items[1]["blocked_until"] - items[1]["ends_at"] == dt.timedelta(minutes=15)
    assert booking["code"] in customer.text and "Маникюр + Педикюр" in customer.text
