"""Staff mark visits: arrived or no-show, by booking code (the CLI and the booking layer
the staff API calls); the client's no-shows are counted."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from salonbot.booking import store
from salonbot.booking.visits import mark_visit, no_shows
from salonbot.db.connection import Connection
from salonbot.errors import BookingNotFound, InvalidInput
from salonbot_dev.cli import main
from tests.integration.processor.harness import CUSTOMER, NOW, import_demo_salon

pytestmark = pytest.mark.integration


def booking_at(db: Connection, at: dt.datetime) -> store.Booking:
    salon = import_demo_salon(db)
    booking = store.create_booking(
        db, salon, phone=CUSTOMER, service_code="manicure", starts_at=at, now=NOW
    )
    db.commit()
    return booking


def test_a_visit_is_marked_once_it_is_due_and_no_shows_are_counted(db: Connection) -> None:
    booking = booking_at(db, NOW.replace(hour=11))
    # Too early for either mark
    with pytest.raises(InvalidInput, match="too early"):
        mark_visit(db, booking.code, "no_show", now=NOW)
    # Half an hour early the customer may have arrived; a no-show only after the start
    arrived = mark_visit(db, booking.code.lower(), "arrived", now=NOW.replace(hour=10, minute=40))
    assert arrived.status == "arrived"
    missed = mark_visit(db, booking.code, "no_show", now=NOW.replace(hour=12))
    assert missed.status == "no_show"
    assert no_shows(db, booking.salon_id, CUSTOMER) == 1
    with pytest.raises(InvalidInput, match="status"):
        mark_visit(db, booking.code, "completed", now=NOW.replace(hour=12))


def test_a_cancelled_or_other_salons_booking_cannot_be_marked(db: Connection) -> None:
    booking = booking_at(db, NOW.replace(hour=11))
    import uuid

    with pytest.raises(BookingNotFound):
        mark_visit(db, booking.code, "arrived", salon_id=uuid.uuid4(), now=NOW.replace(hour=11))
    salon = import_demo_salon(db)
    store.cancel_booking(db, salon, phone=CUSTOMER, code=booking.code, now=NOW)
    db.commit()
    with pytest.raises(InvalidInput, match="cancelled"):
        mark_visit(db, booking.code, "no_show", now=NOW.replace(hour=12))


def test_the_cli_marks_a_no_show(
    db: Connection, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    booking = booking_at(db, NOW.replace(hour=11))
    # The visit was yesterday (the CLI marks at the real clock)
    db.execute(
        "UPDATE bookings SET starts_at = now() - interval '1 day', "
        "ends_at = now() - interval '23 hours', blocked_until = now() - interval '23 hours'"
    )
    db.commit()
    argv = ["--database-url", database_url, "bookings", "mark", booking.code, "--no-show"]
    assert main([*argv, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "no_show" and shown["client_no_shows"] == 1
    assert main(["--database-url", database_url, "bookings", "mark", "NOPE42", "--arrived"]) != 0
    assert "NOPE42" in capsys.readouterr().err
