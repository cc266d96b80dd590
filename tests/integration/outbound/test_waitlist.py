"""The waitlist on real PostgreSQL against the fake send API over HTTP: a freed slot
(cancelled, moved, a no-show) is offered once to the customers waiting for it, exactly one
of any number of customers tapping at once books it, the others are told it is gone, and
offers expire after `waitlist_offer_minutes`. Customers join from the guided flow's full
day and through the model's tool."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from salonbot.assistant.tools import ToolContext, run_tool
from salonbot.booking import store
from salonbot.booking.catalog import Salon
from salonbot.booking.desk import PostgresDesk
from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection, connect
from salonbot.outbound import waitlist
from salonbot.outbound.waitlist import OfferGone, WaitlistRun
from salonbot.whatsapp.client import WhatsAppClient
from salonbot.whatsapp.events import InteractiveReply
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    NOW,
    TUESDAY,
    Clock,
    import_demo_salon,
    settings_for,
)

pytestmark = pytest.mark.integration

TUESDAY_11 = NOW.replace(day=8, hour=11)
WAITING = [f"+7900555{n:04d}" for n in range(10)]


@pytest.fixture
def fake() -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    server.strict_window = True
    server.clock = lambda: NOW
    yield server
    server.stop()


def wrote(db: Connection, fake: FakeWhatsApp, salon: Salon, phone: str, at: dt.datetime) -> None:
    conversations.open_conversation(db, salon.id, phone, language="ru", now=at, inbound_at=at)
    db.commit()
    fake.customer_wrote(phone, at)


def run_offers(database_url: str, fake: FakeWhatsApp, now: dt.datetime = NOW) -> Any:
    client = WhatsAppClient(settings_for(None, fake, whatsapp_max_retries=0))
    with connect(database_url) as conn:
        conn.autocommit = True
        return WaitlistRun(client, clock=lambda: now).run(conn)


def free_tuesday_11(db: Connection, salon: Salon) -> store.Booking:
    """A booking at Tuesday 11:00 with Anna, cancelled: its time is free again."""
    booking = store.create_booking(
        db,
        salon,
        phone=CUSTOMER,
        service_code="manicure",
        starts_at=TUESDAY_11,
        master_code="anna",
        now=NOW,
    )
    db.commit()
    store.cancel_booking(db, salon, phone=CUSTOMER, code=booking.code, now=NOW)
    db.commit()
    return booking


def offer_ids(fake: FakeWhatsApp) -> dict[str, int]:
    """{customer phone: offer id} of the offers sent."""
    found = {}
    for message in fake.sent:
        buttons = message.payload.get("interactive", {}).get("action", {}).get("buttons", [])
        for button in buttons:
            action, value = waitlist.parse(button["reply"]["id"]) or ("", "")
            if action == "take":
                found["+" + message.to] = int(value)
    return found


def test_ten_customers_race_for_one_freed_slot_and_exactly_one_books_it(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given ten customers waiting for a manicure on Tuesday, each inside their window
    salon = import_demo_salon(db)
    for phone in WAITING:
        wrote(db, fake, salon, phone, NOW)
        waitlist.join(db, salon, phone=phone, service_code="manicure", day=TUESDAY, now=NOW)
    db.commit()
    # When a Tuesday booking is cancelled and the outbound run offers its time
    free_tuesday_11(db, salon)
    result = run_offers(database_url, fake)
    assert (result.slots, result.offered) == (1, 10)
    assert run_offers(database_url, fake).offered == 0  # offered once only
    offers = offer_ids(fake)
    assert sorted(offers) == WAITING
    # And all ten tap "Записаться" at the same moment
    barrier = threading.Barrier(len(offers))
    outcomes: dict[str, str] = {}

    def tap(phone: str, offer_id: int) -> None:
        with connect(database_url) as conn:
            barrier.wait()
            try:
                booking = waitlist.take(conn, salon, phone=phone, offer_id=offer_id, now=NOW)
                conn.commit()
                outcomes[phone] = booking.code
            except OfferGone:
                conn.rollback()
                outcomes[phone] = "gone"

    threads = [threading.Thread(target=tap, args=item) for item in offers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then the database gave the slot to exactly one of them; the nine others were refused
    winners = [p for p, code in outcomes.items() if code != "gone"]
    assert len(winners) == 1 and len(outcomes) == 10
    live = db.execute(
        "SELECT c.phone, b.starts_at FROM bookings b JOIN clients c ON c.id = b.client_id "
        "WHERE b.status = 'confirmed'"
    ).fetchall()
    assert live == [{"phone": winners[0], "starts_at": TUESDAY_11}]
    states = db.execute("SELECT phone, state FROM waitlist ORDER BY phone").fetchall()
    assert {s["phone"] for s in states if s["state"] == "booked"} == set(winners)


def test_the_others_are_told_the_time_is_gone(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given two waiting customers who both got the offer
    salon = import_demo_salon(db)
    first, second = WAITING[:2]
    harness = guided_harness(db, fake, clock=Clock(NOW))
    for phone in (first, second):
        fake.customer_wrote(phone, NOW)
        Customer(harness, fake, phone=phone).say("Привет")
        waitlist.join(db, salon, phone=phone, service_code="manicure", day=TUESDAY, now=NOW)
    db.commit()
    free_tuesday_11(db, salon)
    run_offers(database_url, fake)
    offers = offer_ids(fake)
    winner, loser = Customer(harness, fake, phone=first), Customer(harness, fake, phone=second)
    winner._collect(), loser._collect()
    # When both tap the offer's button, one after the other
    for customer in (winner, loser):
        tapped = InteractiveReply(
            kind="button_reply", id=waitlist.take_id(offers[customer.phone]), title="Записаться"
        )
        harness.process(harness.body(None, phone=customer.phone, interactive=tapped))
        customer._collect()
    # Then the first is booked, the second told the time is taken
    assert "подтверждена" in winner.text
    assert "уже заняли" in loser.text
    assert offers[second] != offers[first]
    booked = db.execute("SELECT count(*) AS n FROM bookings WHERE status = 'confirmed'").fetchone()
    assert booked == {"n": 1}


def test_an_offer_expires_after_waitlist_offer_minutes(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = import_demo_salon(db, waitlist_offer_minutes=20)
    wrote(db, fake, salon, WAITING[0], NOW)
    waitlist.join(db, salon, phone=WAITING[0], service_code="manicure", day=TUESDAY, now=NOW)
    db.commit()
    free_tuesday_11(db, salon)
    run_offers(database_url, fake)
    [offer] = offer_ids(fake).values()
    # Twenty minutes later the offer is gone, and taking it books nothing
    with pytest.raises(OfferGone):
        waitlist.take(
            db, salon, phone=WAITING[0], offer_id=offer, now=NOW + dt.timedelta(minutes=20)
        )
    db.rollback()
    # Within them it books
    booking = waitlist.take(
        db, salon, phone=WAITING[0], offer_id=offer, now=NOW + dt.timedelta(minutes=19)
    )
    db.commit()
    assert booking.starts_at == TUESDAY_11 and booking.master_code == "anna"


def test_a_move_and_a_no_show_free_their_slots_and_only_matching_customers_are_offered(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given one customer waiting for Anna on Tuesday, one for Wednesday, one outside the window
    salon = import_demo_salon(db)
    anna_tuesday, wednesday, silent = WAITING[:3]
    for phone in (anna_tuesday, wednesday):
        wrote(db, fake, salon, phone, NOW)
    wrote(db, fake, salon, silent, NOW - dt.timedelta(days=2))
    waitlist.join(
        db,
        salon,
        phone=anna_tuesday,
        service_code="manicure",
        day=TUESDAY,
        master_code="anna",
        now=NOW,
    )
    waitlist.join(
        db,
        salon,
        phone=wednesday,
        service_code="manicure",
        day=TUESDAY + dt.timedelta(days=1),
        now=NOW,
    )
    waitlist.join(db, salon, phone=silent, service_code="manicure", day=TUESDAY, now=NOW)
    booking = store.create_booking(
        db,
        salon,
        phone=CUSTOMER,
        service_code="manicure",
        starts_at=TUESDAY_11,
        master_code="anna",
        now=NOW,
    )
    db.commit()
    # When the booking is moved to Thursday
    store.move_booking(
        db,
        salon,
        phone=CUSTOMER,
        code=booking.code,
        starts_at=TUESDAY_11 + dt.timedelta(days=2, hours=1),
        now=NOW,
    )
    db.commit()
    result = run_offers(database_url, fake)
    # Then only the customer waiting for Tuesday, inside the window, gets the offer
    assert list(offer_ids(fake)) == [anna_tuesday]
    assert result.no_channel == 1
    # And a booking marked a no-show frees nothing in the past
    db.execute("UPDATE bookings SET status = 'no_show' WHERE id = %s", (booking.id,))
    db.commit()
    freed = db.execute("SELECT count(*) AS n FROM freed_slots").fetchone()
    assert freed == {"n": 2}
    assert run_offers(database_url, fake, NOW + dt.timedelta(days=3)).slots == 0


def test_a_full_day_in_the_guided_flow_offers_to_join_the_waitlist(
    db: Connection, fake: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    harness = guided_harness(db, fake, clock=Clock(NOW))
    customer = Customer(harness, fake)
    fake.customer_wrote(CUSTOMER, NOW)
    # Anna has no free time on Thursday
    customer.say("маникюр к Анне в четверг")
    assert "свободного времени нет" in customer.text
    customer.tap("В лист ожидания")
    assert "листе ожидания" in customer.text
    rows = db.execute(
        "SELECT w.day, s.code AS service, m.code AS master, w.state FROM waitlist w "
        "JOIN services s ON s.id = w.service_id LEFT JOIN masters m ON m.id = w.master_id"
    ).fetchall()
    assert rows == [
        {"day": dt.date(2030, 1, 10), "service": "manicure", "master": "anna", "state": "waiting"}
    ]
    # A forged join for an unknown service changes nothing and the flow answers as usual
    forged = InteractiveReply(kind="button_reply", id="waitlist:join:nails|2030-01-10|", title="x")
    harness.process(harness.body(None, interactive=forged))
    customer._collect()
    assert customer.replies
    assert db.execute("SELECT count(*) AS n FROM waitlist").fetchone() == {"n": 1}


def test_the_model_tool_joins_the_waitlist_and_refuses_an_unknown_service(db: Connection) -> None:
    salon = import_demo_salon(db)
    ctx = ToolContext(desk=PostgresDesk(db, salon, CUSTOMER, NOW), language="ru")
    ok = run_tool(ctx, "join_waitlist", json.dumps({"service": "manicure", "date": "2030-01-08"}))
    assert ok["ok"] is True
    bad = run_tool(ctx, "join_waitlist", json.dumps({"service": "nails", "date": "2030-01-08"}))
    assert "error" in bad
    past = run_tool(ctx, "join_waitlist", json.dumps({"service": "manicure", "date": "2030-01-01"}))
    assert "error" in past
    rows = db.execute("SELECT phone, day, master_id FROM waitlist").fetchall()
    assert rows == [{"phone": CUSTOMER, "day": dt.date(2030, 1, 8), "master_id": None}]


def test_outside_the_window_the_offer_goes_out_on_the_approved_template(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    from salonbot.outbound import templates

    # Given a customer who wrote two days ago, and an approved waitlist_offer template
    salon = import_demo_salon(
        db,
        whatsapp_templates=[
            {
                "purpose": "waitlist_offer",
                "name": "slot_freed",
                "language": "ru",
                "category": "utility",
                "body": "Освободилось время: {{1}} {{2}} в {{3}}.",
                "body_parameters": ["service", "start_date", "start_time"],
                "buttons": ["confirm"],
            }
        ],
    )
    [template] = templates.salon_templates(db, salon.id)
    templates.record_status(
        db,
        name=template.name,
        language=template.language,
        meta_status="APPROVED",
        salon_id=salon.id,
    )
    fake.add_template(template.name, template.language, body=template.body or "")
    db.commit()
    wrote(db, fake, salon, WAITING[0], NOW - dt.timedelta(days=2))
    waitlist.join(db, salon, phone=WAITING[0], service_code="manicure", day=TUESDAY, now=NOW)
    db.commit()
    free_tuesday_11(db, salon)
    # When the run offers the freed time
    result = run_offers(database_url, fake)
    # Then the template goes out, filled from the slot, its button taking the offer
    assert result.offered == 1
    [message] = fake.sent
    sent = message.payload["template"]
    assert sent["name"] == "slot_freed"
    assert [p["text"] for p in sent["components"][0]["parameters"]] == [
        "Маникюр",
        "вт 08.01",
        "11:00",
    ]
    payload = sent["components"][1]["parameters"][0]["payload"]
    [offer] = db.execute(
        "SELECT o.id, o.wamid, w.phone FROM waitlist_offers o "
        "JOIN waitlist w ON w.id = o.waitlist_id WHERE o.state = 'sent'"
    ).fetchall()
    assert payload == waitlist.take_id(offer["id"])
    assert (offer["wamid"], offer["phone"]) == (message.id, WAITING[0])


def test_without_the_window_or_a_template_no_offer_goes_out_and_nothing_is_claimed(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = import_demo_salon(db)
    wrote(db, fake, salon, WAITING[0], NOW - dt.timedelta(days=2))
    waitlist.join(db, salon, phone=WAITING[0], service_code="manicure", day=TUESDAY, now=NOW)
    db.commit()
    free_tuesday_11(db, salon)
    result = run_offers(database_url, fake)
    assert (result.offered, result.no_channel) == (0, 1)
    assert fake.sent == []
    assert db.execute("SELECT count(*) AS n FROM waitlist_offers").fetchone() == {"n": 0}


def test_a_freed_time_booked_again_before_the_run_is_not_offered(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = import_demo_salon(db)
    wrote(db, fake, salon, WAITING[0], NOW)
    waitlist.join(db, salon, phone=WAITING[0], service_code="manicure", day=TUESDAY, now=NOW)
    db.commit()
    free_tuesday_11(db, salon)
    store.create_booking(
        db,
        salon,
        phone=WAITING[1],
        service_code="manicure",
        starts_at=TUESDAY_11 + dt.timedelta(minutes=30),
        master_code="anna",
        now=NOW,
    )
    db.commit()
    assert run_offers(database_url, fake).slots == 0
    assert offer_ids(fake) == {}
