"""Reminder runs on real PostgreSQL against the fake send API over HTTP: each (booking,
reminder) goes out once however runs race or crash, templates only when approved and
filled in the customer's language, free-form only inside the 24-hour window, and the
reminder's buttons confirm, cancel and move the booking they name."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from salonbot.booking import store
from salonbot.booking.catalog import Salon
from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection, connect
from salonbot.outbound import templates
from salonbot.outbound.reminders import ReminderRun
from salonbot.whatsapp.client import WhatsAppClient
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.processor.guided_harness import Customer, guided_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    DEMO_PHONE_NUMBER_ID,
    NOW,
    OTHER_CUSTOMER,
    Clock,
    import_demo_salon,
    settings_for,
)

pytestmark = pytest.mark.integration

TOMORROW_11 = NOW.replace(day=8, hour=11)  # Tuesday 11:00, 26 hours ahead
RU_BODY = "Напоминаем: {{1}} {{2}} в {{3}}. Запись {{4}}."
EN_BODY = "Reminder: {{1}} on {{2}} at {{3}}. Booking {{4}}."
PARAMETERS = ["service", "start_date", "start_time", "code"]
REMINDER_TEMPLATES = [
    {
        "purpose": "reminder",
        "name": "visit_reminder",
        "language": "ru",
        "body": RU_BODY,
        "body_parameters": PARAMETERS,
        "buttons": ["confirm", "cancel", "move"],
    },
    {
        "purpose": "reminder",
        "name": "visit_reminder",
        "language": "en",
        "body": EN_BODY,
        "body_parameters": PARAMETERS,
        "buttons": ["confirm", "cancel", "move"],
    },
]


@pytest.fixture
def fake() -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    server.strict_window = True
    server.clock = lambda: NOW
    yield server
    server.stop()


def salon_with_reminders(db: Connection, **overrides: Any) -> Salon:
    values: dict[str, Any] = {"reminders": [{"before_minutes": 1440}, {"before_minutes": 120}]}
    values.update(overrides)
    return import_demo_salon(db, **values)


def approve_all(db: Connection, fake: FakeWhatsApp, salon: Salon) -> None:
    for template in templates.salon_templates(db, salon.id):
        templates.record_status(
            db,
            name=template.name,
            language=template.language,
            meta_status="APPROVED",
            salon_id=salon.id,
        )
        fake.add_template(template.name, template.language, body=template.body or "")
    db.commit()


def book(db: Connection, salon: Salon, phone: str = CUSTOMER, at: dt.datetime = TOMORROW_11):
    booking = store.create_booking(
        db, salon, phone=phone, service_code="manicure", starts_at=at, master_code="anna", now=NOW
    )
    db.commit()
    return booking


def customer_wrote(
    db: Connection, fake: FakeWhatsApp, salon: Salon, phone: str, at: dt.datetime, lang: str
) -> None:
    conversations.open_conversation(db, salon.id, phone, language=lang, now=at, inbound_at=at)
    db.commit()
    fake.customer_wrote(phone, at)


def runner(fake: FakeWhatsApp, now: dt.datetime = NOW, **kwargs: Any) -> ReminderRun:
    client = WhatsAppClient(settings_for(None, fake, whatsapp_max_retries=0))
    return ReminderRun(client, clock=lambda: now, **kwargs)


def run_once(database_url: str, fake: FakeWhatsApp, now: dt.datetime = NOW, **kwargs: Any):
    with connect(database_url) as conn:
        conn.autocommit = True
        return runner(fake, now, **kwargs).run(conn)


def claims_of(db: Connection) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT kind, state, form, template_name, category FROM outbound_messages ORDER BY id"
    ).fetchall()


def test_a_template_reminder_is_filled_from_the_booking_in_the_customers_language(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given approved ru and en templates, and an English-speaking customer who wrote long ago
    salon = salon_with_reminders(db, whatsapp_templates=REMINDER_TEMPLATES)
    approve_all(db, fake, salon)
    customer_wrote(db, fake, salon, OTHER_CUSTOMER, NOW - dt.timedelta(days=3), "en")
    english = book(db, salon, OTHER_CUSTOMER)
    russian = book(db, salon, CUSTOMER, TOMORROW_11.replace(hour=15))
    # When the day-before reminders come due
    result = run_once(database_url, fake, NOW + dt.timedelta(hours=7))
    # Then each customer gets the template in their language, parameters from the booking
    assert result.sent == 2 and result.template == 2
    sent = {m.to: m.payload for m in fake.sent}
    en = sent[OTHER_CUSTOMER.lstrip("+")]["template"]
    assert en["name"] == "visit_reminder" and en["language"] == {"code": "en"}
    body = [p["text"] for p in en["components"][0]["parameters"]]
    assert body == ["Manicure", "Tue 08.01", "11:00", english.code]
    buttons = [c["parameters"][0]["payload"] for c in en["components"][1:]]
    assert buttons == [f"booking:{a}:{english.code}" for a in ("confirm", "cancel", "move")]
    ru = sent[CUSTOMER.lstrip("+")]["template"]
    assert ru["language"] == {"code": "ru"}
    assert [p["text"] for p in ru["components"][0]["parameters"]][:3] == [
        "Маникюр",
        "вт 08.01",
        "15:00",
    ]
    assert russian.code in ru["components"][0]["parameters"][3]["text"]
    assert {c["state"] for c in claims_of(db)} == {"sent"}


def test_a_template_not_approved_is_never_used(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given templates still pending at Meta and a customer whose window closed
    salon = salon_with_reminders(db, whatsapp_templates=REMINDER_TEMPLATES)
    customer_wrote(db, fake, salon, CUSTOMER, NOW - dt.timedelta(hours=30), "ru")
    book(db, salon)
    # When the reminder is due
    result = run_once(database_url, fake, NOW + dt.timedelta(hours=5))
    # Then nothing goes out (no template, no window) and nothing is claimed
    assert result.no_channel == 1 and result.sent == 0
    assert fake.sent == [] and claims_of(db) == []


def test_inside_the_window_a_free_form_reminder_with_buttons_goes_out(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    customer_wrote(db, fake, salon, CUSTOMER, NOW, "ru")
    booking = book(db, salon)
    result = run_once(database_url, fake, NOW + dt.timedelta(hours=5))
    assert result.free_form == 1
    [message] = fake.sent
    interactive = message.payload["interactive"]
    assert booking.code in interactive["body"]["text"]
    ids = [b["reply"]["id"] for b in interactive["action"]["buttons"]]
    assert ids == [f"booking:{a}:{booking.code}" for a in ("confirm", "cancel", "move")]
    assert claims_of(db) == [
        {
            "kind": "reminder:1440",
            "state": "sent",
            "form": "free_form",
            "template_name": None,
            "category": "service",
        }
    ]


def test_a_booking_made_two_hours_ahead_gets_only_the_nearest_reminder_once(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    customer_wrote(db, fake, salon, CUSTOMER, NOW, "ru")
    book(db, salon, at=NOW.replace(hour=11))  # two hours ahead: both reminders due
    first = run_once(database_url, fake)
    again = run_once(database_url, fake, NOW + dt.timedelta(minutes=5))
    assert first.sent == 1 and first.skipped == 1
    assert again.due == 0 and len(fake.sent) == 1
    assert sorted((c["kind"], c["state"]) for c in claims_of(db)) == [
        ("reminder:120", "sent"),
        ("reminder:1440", "skipped"),
    ]


def test_two_runs_racing_send_each_reminder_once(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given twelve customers with a visit tomorrow, each inside their window
    salon = salon_with_reminders(db)
    phones = [f"+7900100{n:04d}" for n in range(12)]
    # Visits 75 minutes apart: an hour's manicure and its 10-minute buffer.
    slots = [("anna", h, m) for h, m in ((10, 0), (11, 15), (12, 30), (15, 0), (16, 15), (17, 30))]
    slots += [
        ("maria", h, m) for h, m in ((12, 0), (13, 15), (14, 30), (17, 0), (18, 15), (19, 30))
    ]
    for phone, (master, hour, minute) in zip(phones, slots, strict=True):
        customer_wrote(db, fake, salon, phone, NOW, "ru")
        store.create_booking(
            db,
            salon,
            phone=phone,
            service_code="manicure",
            starts_at=TOMORROW_11.replace(hour=hour, minute=minute),
            master_code=master,
            now=NOW,
        )
    db.commit()
    # When two runs start at the same moment
    later = NOW + dt.timedelta(hours=11)
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(index: int) -> None:
        with connect(database_url) as conn:
            conn.autocommit = True
            run_ = runner(fake, later)
            barrier.wait()
            results[index] = run_.run(conn)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every customer got exactly one reminder, whichever run sent it
    assert sum(r.sent for r in results) == 12
    assert sorted(m.to for m in fake.sent) == sorted(p.lstrip("+") for p in phones)
    assert len(claims_of(db)) == 12


class CrashAfterSending:
    """A send client whose process dies right after WhatsApp accepted the message."""

    def __init__(self, client: WhatsAppClient) -> None:
        self.client = client

    def send_payload(self, phone_number_id: str, payload: dict[str, Any]) -> str:
        self.client.send_payload(phone_number_id, payload)
        raise SystemExit("killed mid-send")


def test_a_run_crashing_mid_send_is_never_repeated(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    customer_wrote(db, fake, salon, CUSTOMER, NOW, "ru")
    book(db, salon)
    later = NOW + dt.timedelta(hours=5)
    client = WhatsAppClient(settings_for(None, fake, whatsapp_max_retries=0))
    with connect(database_url) as conn, pytest.raises(SystemExit):
        conn.autocommit = True
        ReminderRun(CrashAfterSending(client), clock=lambda: later).run(conn)  # type: ignore[arg-type]
    # The next run finds the claim and sends nothing: one reminder, never two.
    result = run_once(database_url, fake, later + dt.timedelta(minutes=5))
    assert result.due == 0 and len(fake.sent) == 1
    assert [c["state"] for c in claims_of(db)] == ["sending"]


def test_an_unknown_outcome_is_never_repeated_and_a_certain_failure_is(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    for phone in (CUSTOMER, OTHER_CUSTOMER):
        customer_wrote(db, fake, salon, phone, NOW, "ru")
    book(db, salon, CUSTOMER)
    book(db, salon, OTHER_CUSTOMER, TOMORROW_11.replace(hour=15))
    fake.hang_up()  # the first send: accepted, answer lost
    fake.script(503, times=1)  # the second: certainly not accepted
    later = NOW + dt.timedelta(hours=7)
    first = run_once(database_url, fake, later)
    assert (first.unknown, first.released) == (1, 1)
    second = run_once(database_url, fake, later + dt.timedelta(minutes=5))
    assert second.sent == 1
    assert sorted(m.to for m in fake.sent) == sorted(
        p.lstrip("+") for p in (CUSTOMER, OTHER_CUSTOMER)
    )
    assert sorted(c["state"] for c in claims_of(db)) == ["sent", "unknown"]


def test_error_131047_outside_the_window_is_recorded_not_retried(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given our record says the customer wrote recently, but WhatsApp knows better
    salon = salon_with_reminders(db)
    customer_wrote(db, fake, salon, CUSTOMER, NOW, "ru")
    fake.customer_wrote(CUSTOMER, NOW - dt.timedelta(hours=30))
    book(db, salon)
    result = run_once(database_url, fake, NOW + dt.timedelta(hours=5))
    assert result.failed == 1 and fake.sent == []
    [claim] = db.execute("SELECT state, error FROM outbound_messages").fetchall()
    assert claim["state"] == "failed" and "131047" in claim["error"]
    assert run_once(database_url, fake, NOW + dt.timedelta(hours=6)).due == 0


def test_a_cancelled_booking_is_never_reminded_and_a_moved_one_is_for_its_new_time(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    for phone in (CUSTOMER, OTHER_CUSTOMER):
        customer_wrote(db, fake, salon, phone, NOW, "ru")
    cancelled = book(db, salon, OTHER_CUSTOMER, TOMORROW_11.replace(hour=15))
    store.cancel_booking(db, salon, phone=OTHER_CUSTOMER, code=cancelled.code, now=NOW)
    moved = book(db, salon)
    db.commit()
    assert run_once(database_url, fake, NOW + dt.timedelta(hours=5)).sent == 1
    store.move_booking(
        db, salon, phone=CUSTOMER, code=moved.code, starts_at=TOMORROW_11.replace(hour=16), now=NOW
    )
    db.commit()
    result = run_once(database_url, fake, NOW + dt.timedelta(hours=10))
    assert result.sent == 1
    assert [m.to for m in fake.sent] == [CUSTOMER.lstrip("+")] * 2
    assert "16:00" in fake.sent[1].payload["interactive"]["body"]["text"]


def test_quiet_hours_hold_reminders_until_they_end(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db, quiet_hours={"start": "21:00", "end": "09:00"})
    customer_wrote(db, fake, salon, CUSTOMER, NOW, "ru")
    book(db, salon, at=TOMORROW_11.replace(hour=12))
    night = NOW.replace(hour=23, minute=30)  # 12.5 hours ahead, day-before reminder due
    assert run_once(database_url, fake, night).quiet == 1 and fake.sent == []
    morning = NOW.replace(day=8, hour=9, minute=0)
    fake.customer_wrote(CUSTOMER, morning - dt.timedelta(hours=1))
    db.execute(
        "UPDATE ai_conversations SET last_inbound_at = %s", (morning - dt.timedelta(hours=1),)
    )
    db.commit()
    assert run_once(database_url, fake, morning).sent == 1


def test_the_reminders_buttons_confirm_cancel_and_move_the_booking(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given a customer reminded of tomorrow's visit (inside the window)
    salon = salon_with_reminders(db)
    harness = guided_harness(db, fake, clock=Clock(NOW))
    customer = Customer(harness, fake)
    fake.customer_wrote(CUSTOMER, NOW)
    customer.say("Привет")
    booking = book(db, salon)
    assert run_once(database_url, fake, NOW + dt.timedelta(hours=5)).sent == 1
    customer._collect()
    # When they tap "Confirm"
    customer.tap("Подтвердить")
    # Then the booking shows the customer's confirmation
    assert "подтверждена" in customer.text
    row = db.execute(
        "SELECT customer_confirmed_at FROM bookings WHERE code = %s", (booking.code,)
    ).fetchone()
    assert row is not None and row["customer_confirmed_at"] is not None
    # When they tap "Move" on the same reminder, the guided flow asks for the new time
    customer.replies = [customer.replies[0]] if customer.replies else []
    move = InteractiveTap(f"booking:move:{booking.code}", "Перенести")
    customer.harness.process(customer.harness.body(None, interactive=move.reply()))
    customer._collect()
    assert customer.choices, "the move offers days or times to choose"
    # When they tap "Cancel", the booking is cancelled under the customer's own rules
    cancel = InteractiveTap(f"booking:cancel:{booking.code}", "Отменить")
    customer.harness.process(customer.harness.body(None, interactive=cancel.reply()))
    customer._collect()
    assert "отменена" in customer.text
    status = db.execute("SELECT status FROM bookings WHERE code = %s", (booking.code,)).fetchone()
    assert status == {"status": "cancelled"}


def test_a_button_naming_another_customers_booking_changes_nothing(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    salon = salon_with_reminders(db)
    other = book(db, salon, OTHER_CUSTOMER)
    fake.customer_wrote(CUSTOMER, NOW)
    harness = guided_harness(db, fake, clock=Clock(NOW))
    customer = Customer(harness, fake)
    tap = InteractiveTap(f"booking:cancel:{other.code}", "Отменить")
    harness.process(harness.body(None, interactive=tap.reply()))
    customer._collect()
    assert "уже не действует" in customer.text
    status = db.execute("SELECT status FROM bookings WHERE code = %s", (other.code,)).fetchone()
    assert status == {"status": "confirmed"}
    assert salon.whatsapp_phone_number_id == DEMO_PHONE_NUMBER_ID


class InteractiveTap:
    def __init__(self, option_id: str, title: str) -> None:
        self.option_id, self.title = option_id, title

    def reply(self) -> Any:
        from salonbot.whatsapp.events import InteractiveReply

        return InteractiveReply(kind="button_reply", id=self.option_id, title=self.title)


def test_a_run_pages_through_due_bookings_deciding_each_booking_whole(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given one booking with both reminders due and two with the day-before one
    salon = salon_with_reminders(db)
    phones = [CUSTOMER, OTHER_CUSTOMER, "+79005550001"]
    for phone, hour, minute in zip(phones, (11, 12, 15), (0, 30, 0), strict=True):
        customer_wrote(db, fake, salon, phone, NOW, "ru")
        book(db, salon, phone, NOW.replace(hour=hour, minute=minute))
    # When a run reads them two rows at a time
    result = run_once(database_url, fake, batch=2)
    # Then each customer got exactly one reminder, the nearest due
    assert (result.sent, result.skipped) == (3, 1)
    assert sorted(m.to for m in fake.sent) == sorted(p.lstrip("+") for p in phones)


def quoting(harness: Any, text: str, quoted: str) -> str:
    from salonbot.whatsapp.events import InboundMessage, QueueEnvelope

    message = InboundMessage(
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        message_id=f"wamid.quote.{quoted}.{text}",
        wa_id=CUSTOMER.lstrip("+"),
        timestamp=NOW,
        type="text",
        text=text,
        payload={"context": {"from": "15550001111", "id": quoted}},
    )
    return QueueEnvelope(event=message, enqueued_at=NOW).model_dump_json()


def test_a_reply_quoting_the_reminder_refers_to_its_booking(
    db: Connection, database_url: str, fake: FakeWhatsApp
) -> None:
    # Given a customer with two bookings, reminded of the first
    salon = salon_with_reminders(db)
    harness = guided_harness(db, fake, clock=Clock(NOW))
    customer = Customer(harness, fake)
    fake.customer_wrote(CUSTOMER, NOW)
    customer.say("Привет")
    first = book(db, salon)
    second = book(db, salon, at=NOW.replace(day=9, hour=11))
    assert run_once(database_url, fake, NOW + dt.timedelta(hours=5)).sent == 1
    reminder = fake.sent[-1].id
    customer._collect()
    # When they answer "да" quoting the reminder, that booking is confirmed
    harness.process(quoting(harness, "Да!", reminder))
    customer._collect()
    assert "подтверждена" in customer.text and first.code in customer.text
    confirmed = db.execute(
        "SELECT code FROM bookings WHERE customer_confirmed_at IS NOT NULL"
    ).fetchall()
    assert confirmed == [{"code": first.code}]
    # And "отменить" quoting it cancels that booking, not the other one
    harness.process(quoting(harness, "отменить", reminder))
    statuses = {
        r["code"]: r["status"] for r in db.execute("SELECT code, status FROM bookings").fetchall()
    }
    assert statuses == {first.code: "cancelled", second.code: "confirmed"}


def test_a_reply_to_a_message_older_than_the_window_is_not_attempted(
    db: Connection, fake: FakeWhatsApp
) -> None:
    from salonbot.whatsapp.events import InboundMessage, QueueEnvelope

    import_demo_salon(db)
    fake.customer_wrote(CUSTOMER, NOW - dt.timedelta(hours=25))
    harness = guided_harness(db, fake, clock=Clock(NOW))
    # A message the customer sent 25 hours ago, delivered only now
    message = InboundMessage(
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        message_id="wamid.late.1",
        wa_id=CUSTOMER.lstrip("+"),
        timestamp=NOW - dt.timedelta(hours=25),
        type="text",
        text="Привет",
    )
    outcome = harness.process(QueueEnvelope(event=message, enqueued_at=NOW).model_dump_json())
    assert outcome == "reply_failed" and fake.sent == [] and fake.requests == []
    row = db.execute(
        "SELECT reply_status, reply_error FROM inbound_messages WHERE message_id = 'wamid.late.1'"
    ).fetchone()
    assert row is not None and row["reply_status"] == "failed"
    assert "24-hour window" in row["reply_error"]
