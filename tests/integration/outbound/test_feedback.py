"""Feedback after a visit: asked once `feedback_after_minutes` after it ends, the 1-5
rating stored on the booking, a low one passed on to the staff, averages per master."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection, connect
from salonbot.outbound.feedback import FeedbackRun
from salonbot.stats import salon_stats
from salonbot.whatsapp.client import WhatsAppClient
from salonbot.whatsapp.events import InteractiveReply
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.outbound.test_reminders import book, salon_with_reminders
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import CUSTOMER, NOW, Clock, settings_for

pytestmark = pytest.mark.integration
VISIT = NOW.replace(day=8, hour=11)  # Tuesday 11:00-12:00
ANY_TIME = (dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC))


class Notices:
    """The staff topic, as a list."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def notify(self, salon: Any, **kwargs: Any) -> None:
        self.sent.append(kwargs)


@pytest.fixture
def fake() -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    yield server
    server.stop()


def feedback_run(database_url: str, fake: FakeWhatsApp, now: dt.datetime) -> Any:
    client = WhatsAppClient(settings_for(None, fake, whatsapp_max_retries=0))
    with connect(database_url) as conn:
        conn.autocommit = True
        return FeedbackRun(client, clock=lambda: now).run(conn)


def test_feedback_is_asked_once_after_the_visit_and_the_rating_stored(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given a visit that ended, the customer having written that morning
    salon = salon_with_reminders(db, reminders=[])
    booking = book(db, salon)
    morning = VISIT.replace(hour=9)
    conversations.open_conversation(db, salon.id, CUSTOMER, now=morning, inbound_at=morning)
    db.commit()
    # Not before the default 120 minutes after its end
    assert feedback_run(database_url, fake, VISIT.replace(hour=13)).due == 0
    later = VISIT.replace(hour=14, minute=5)
    first = feedback_run(database_url, fake, later)
    again = feedback_run(database_url, fake, later + dt.timedelta(minutes=5))
    assert first.sent == 1 and again.due == 0
    [request] = fake.sent
    rows = request.payload["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"rate:{booking.code}:{n}" for n in (5, 4, 3, 2, 1)]
    # When the customer picks 5
    harness = guided_harness(db, fake, clock=Clock(later))
    customer = Customer(harness, fake)
    tap = InteractiveReply(kind="list_reply", id=f"rate:{booking.code}:5", title="★★★★★ 5")
    harness.process(harness.body(None, interactive=tap))
    customer._collect()
    # Then it is stored on the booking and the customer thanked
    row = db.execute("SELECT rating FROM bookings WHERE code = %s", (booking.code,)).fetchone()
    assert row == {"rating": 5}
    assert customer.text.endswith("Спасибо за оценку!")
    stats = salon_stats(db, salon.id, *ANY_TIME)
    assert stats.ratings_by_master == {"anna": {"average": 5.0, "ratings": 1}}


def test_a_low_rating_notifies_the_staff(db: Connection, fake: FakeWhatsApp) -> None:
    from salonbot.processing.pipeline import MessageProcessor

    salon = salon_with_reminders(db, reminders=[])
    booking = book(db, salon)
    later = VISIT.replace(hour=14, minute=5)
    harness = guided_harness(db, fake, clock=Clock(later))
    notices = Notices()
    harness.processor = MessageProcessor(
        harness.settings,
        assistant=harness.router,
        whatsapp=harness.whatsapp,
        staff=notices,  # type: ignore[arg-type]
        connection=lambda: db,
        clock=harness.clock,
    )
    fake.customer_wrote(CUSTOMER)
    tap = InteractiveReply(kind="list_reply", id=f"rate:{booking.code}:1", title="★ 1")
    harness.process(harness.body(None, interactive=tap))
    assert [n["reason"] for n in notices.sent] == ["low_rating"]
    assert booking.code in notices.sent[0]["text"]
    assert "1/5" in notices.sent[0]["text"]


def test_no_feedback_for_a_no_show_or_when_switched_off(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db, reminders=[], feedback_after_minutes=None)
    booking = book(db, salon)
    conversations.open_conversation(db, salon.id, CUSTOMER, now=VISIT, inbound_at=VISIT)
    db.commit()
    assert feedback_run(database_url, fake, VISIT.replace(hour=15)).due == 0
    salon = salon_with_reminders(db, reminders=[])
    db.execute("UPDATE bookings SET status = 'no_show' WHERE code = %s", (booking.code,))
    db.commit()
    assert feedback_run(database_url, fake, VISIT.replace(hour=15)).due == 0
    assert json.dumps(fake.texts_to(CUSTOMER)) == "[]"
