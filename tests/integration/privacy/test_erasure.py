"""Erasure of one customer: conversations through the real processor (the fake model books,
the fake WhatsApp answers, delivery statuses come back), the webhook's message-id records,
the throttle and the cost guard in moto's DynamoDB with the template's own tables. After
`forget_customer`, every text and JSON column of every PostgreSQL table and every item of
every DynamoDB table is searched for the phone in each form salonbot writes it (E.164,
WhatsApp's digits, the conversation id), and another customer's data is as it was."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.conversation.store import conversation_id
from salonbot.cost.guard import DynamoCostGuard, customer_key_prefix
from salonbot.db.connection import Connection
from salonbot.errors import ErasureFailed, UnknownSalon
from salonbot.inbound.dedupe import DynamoSeenMessages, dedupe_key
from salonbot.privacy.customer_items import ITEM_KINDS, CustomerItems
from salonbot.privacy.erasure import forget_customer
from salonbot.processing import ledger
from salonbot.whatsapp.events import QueueEnvelope, StatusUpdate
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.conftest import DEMO_SALON_ID
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, ToolCall
from tests.integration.privacy.stores import (
    REGION,
    Stores,
    dynamo_occurrences,
    forms,
    pg_occurrences,
)
from tests.integration.processor.harness import (
    DEMO_PHONE_NUMBER_ID,
    Harness,
    build_harness,
    import_demo_salon,
    settings_for,
)

pytestmark = pytest.mark.integration

FORGOTTEN = "+79001234567"
KEPT = "+79007654321"
SECOND_SALON_ID = "3f0c1a52-0000-4000-8000-0000000000e2"
SECOND_PHONE_NUMBER_ID = "100000000000002"


class Salon:
    """Customers writing to one salon through the processor, as the webhook would hand
    their messages over: each message id is first claimed in the dedupe table, and each
    reply's delivery statuses come back."""

    def __init__(self, harness: Harness, stores: Stores, phone_number_id: str) -> None:
        self.harness = harness
        self.seen = DynamoSeenMessages(stores.tables["idempotency_table"], client=stores.client)
        self.phone_number_id = phone_number_id
        self.count = 0

    def _accept(self, phone: str) -> str:
        """A new message id for `phone`, claimed in the dedupe table as the webhook does."""
        self.count += 1
        # Real wamids encode the sender's number; these carry it in clear, so the search
        # for the phone also finds every record keyed on one of its message ids.
        wamid = f"wamid.{phone.lstrip('+')}.{self.phone_number_id}.{self.count}"
        now = dt.datetime.now(dt.UTC).timestamp()
        owner = secrets.token_hex(8)
        self.seen.claim(dedupe_key(wamid), now, owner)
        self.seen.complete(dedupe_key(wamid), now, owner)
        self.seen.note_latest(self.phone_number_id, phone.lstrip("+"), wamid, int(now), now)
        return wamid

    def say_late(self, phone: str, text: str) -> None:
        """A message the webhook took more than a day late: kept for the staff."""
        wamid = self._accept(phone)
        body = self.harness.body(
            text, phone=phone, wamid=wamid, phone_number_id=self.phone_number_id
        )
        late = QueueEnvelope.model_validate_json(body).model_copy(update={"stale": True})
        assert self.harness.process(late.model_dump_json()) == "kept"

    def say(self, phone: str, text: str, fake_whatsapp: FakeWhatsApp) -> None:
        wamid = self._accept(phone)
        before = len(fake_whatsapp.sent)
        self.harness.say(text, phone=phone, wamid=wamid, phone_number_id=self.phone_number_id)
        for reply in fake_whatsapp.sent[before:]:
            for status in ("sent", "delivered", "read"):
                event = StatusUpdate(
                    phone_number_id=self.phone_number_id,
                    message_id=reply.id,
                    status=status,
                    recipient_id=reply.to,
                    timestamp=self.harness.clock.now,
                )
                self.harness.process(
                    QueueEnvelope(event=event, enqueued_at=self.harness.clock.now).model_dump_json()
                )


def _booked(request: ModelRequest) -> Answer:
    booked = request.tool_result()["booked"]
    return Answer(f"Готово! Вы записаны на {booked['start']}, код {booked['code']}.")


def _book_tuesday() -> list[Any]:
    call = ToolCall("book", {"service": "manicure", "start": "2030-01-08 15:00", "master": "anna"})
    return [Answer(tool_calls=[call]), _booked]


def cost_counters(stores: Stores, salon_id: object, phone: str) -> int:
    """The customer's day counters in the cost table: keyed on a hash, not the phone."""
    prefix = customer_key_prefix(salon_id, phone)
    items = stores.client.scan(TableName=stores.tables["cost_table"])["Items"]
    return sum(1 for item in items if item["pk"]["S"].startswith(prefix))


def harness_for(
    db: Connection, stores: Stores, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> Harness:
    settings = settings_for(
        fake_openai, fake_whatsapp, rate_limit_table=stores.tables["rate_limit_table"]
    )
    guard = DynamoCostGuard(
        stores.tables["cost_table"], global_daily_budget_usd=Decimal(50), client=stores.client
    )
    return build_harness(db, settings, guard=guard)


def test_forget_leaves_no_trace_of_the_phone_and_another_customer_untouched(
    db: Connection,
    stores: Stores,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
) -> None:
    # Given a customer who booked through the model and thanked, and another who greeted
    import_demo_salon(db)
    harness = harness_for(db, stores, fake_openai, fake_whatsapp)
    salon = Salon(harness, stores, DEMO_PHONE_NUMBER_ID)
    fake_openai.add(*_book_tuesday(), Answer("Пожалуйста!"), Answer("Здравствуйте!"))
    salon.say(FORGOTTEN, "Запишите на маникюр во вторник в 15:00", fake_whatsapp)
    salon.say(FORGOTTEN, "Спасибо", fake_whatsapp)
    salon.say(KEPT, "Привет", fake_whatsapp)
    # and a message of theirs the webhook took a day late, kept for the staff unanswered
    salon.say_late(FORGOTTEN, "Вы работаете сегодня?")
    # and a status whose ledger row is gone (retention took it first)
    ledger.record_status(
        db, message_id="wamid.out.old", status="read", recipient=FORGOTTEN.lstrip("+"),
        error_code=None, error_title=None, occurred_at=harness.clock.now,
    )  # fmt: skip
    db.commit()
    target, other = forms(DEMO_SALON_ID, FORGOTTEN), forms(DEMO_SALON_ID, KEPT)
    # (the phone is in the stores this test means to search)
    stored = pg_occurrences(db, target)
    assert {
        "clients.phone", "ai_conversations.id", "ai_conversations.phone_number",
        "ai_messages.conversation_id", "ai_messages.external_id", "inbound_messages.phone_number",
        "inbound_messages.reply", "message_statuses.recipient", "bookings.source_message_id",
        "kept_messages.phone_number",
    } <= set(stored)  # fmt: skip
    assert set(dynamo_occurrences(stores, target)) == set(stores.tables.values())
    other_before = (pg_occurrences(db, other), dynamo_occurrences(stores, other))
    assert other_before[0] and other_before[1]
    assert cost_counters(stores, DEMO_SALON_ID, FORGOTTEN) == 1
    assert cost_counters(stores, DEMO_SALON_ID, KEPT) == 1

    # When the customer is forgotten
    report = forget_customer(
        db, DEMO_SALON_ID, FORGOTTEN, items=stores.items(), now=harness.clock.now
    )

    # Then the phone is nowhere, in no form
    assert pg_occurrences(db, target) == {}
    assert dynamo_occurrences(stores, target) == {}
    # and the other customer's rows and items are all still there
    assert (pg_occurrences(db, other), dynamo_occurrences(stores, other)) == other_before
    # and the cost guard's counters of the customer, keyed on a hash of the phone, are gone
    assert cost_counters(stores, DEMO_SALON_ID, FORGOTTEN) == 0
    assert cost_counters(stores, DEMO_SALON_ID, KEPT) == 1
    # and the report says what went where
    assert report.phone == "***4567"
    assert report.postgresql == {
        "message_statuses": 7,  # sent, delivered, read of two replies; the orphan
        "inbound_messages": 2,
        "ai_messages": 4,
        "ai_conversations": 1,
        "kept_messages": 1,
        "outbound_messages": 0,
        "opt_outs": 0,
        "waitlist": 0,
        "bookings_cancelled": 1,  # Tuesday's, still to come
        "bookings_anonymised": 1,
        "clients_deleted": 0,
        "clients_anonymised": 1,
    }
    assert report.dynamodb == {
        "throttle_windows": 1,
        "seen_message_ids": 3,  # the kept message's too
        "latest_messages": 1,  # the record of the latest one, for bursts
        "cost_reservations": 3,  # two model calls for the booking, one for the thanks
        "cost_customer_counters": 1,  # today's
    }
    assert report.not_configured == []
    # And the salon keeps the (cancelled) booking, with nobody behind it
    (booking,) = db.execute(
        "SELECT b.status, c.phone, c.name, c.anonymised_at FROM bookings b "
        "JOIN clients c ON c.id = b.client_id"
    ).fetchall()
    assert (booking["status"], booking["phone"], booking["name"]) == ("cancelled", None, None)
    assert booking["anonymised_at"] == harness.clock.now
    db.commit()

    # And forgetting again finds nothing
    again = forget_customer(db, DEMO_SALON_ID, FORGOTTEN, items=stores.items())
    assert again.total == 0


def test_the_same_phone_at_another_salon_is_that_salon_s_and_stays(
    db: Connection,
    stores: Stores,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
) -> None:
    # Given one number writing to two salons
    import_demo_salon(db)
    import_demo_salon(
        db, id=SECOND_SALON_ID, name="Second", whatsapp_phone_number_id=SECOND_PHONE_NUMBER_ID
    )
    harness = harness_for(db, stores, fake_openai, fake_whatsapp)
    first = Salon(harness, stores, DEMO_PHONE_NUMBER_ID)
    second = Salon(harness, stores, SECOND_PHONE_NUMBER_ID)
    fake_openai.add(Answer("Здравствуйте!"), *_book_tuesday())
    first.say(FORGOTTEN, "Привет", fake_whatsapp)
    second.say(FORGOTTEN, "Запишите на маникюр во вторник в 15:00", fake_whatsapp)
    second_forms = [conversation_id(SECOND_SALON_ID, FORGOTTEN), SECOND_PHONE_NUMBER_ID]
    second_before = (pg_occurrences(db, second_forms), dynamo_occurrences(stores, second_forms))
    counts_before = _salon_rows(db, SECOND_SALON_ID)

    # When the first salon forgets the customer
    report = forget_customer(db, DEMO_SALON_ID, FORGOTTEN, items=stores.items())

    # Then the first salon holds nothing of them, and the second everything it held
    assert pg_occurrences(db, [conversation_id(DEMO_SALON_ID, FORGOTTEN)]) == {}
    assert _salon_rows(db, DEMO_SALON_ID) == {"clients": 0, "conversations": 0, "ledger": 0}
    assert _salon_rows(db, SECOND_SALON_ID) == counts_before
    assert (pg_occurrences(db, second_forms), dynamo_occurrences(stores, second_forms)) == (
        second_before
    )
    assert cost_counters(stores, DEMO_SALON_ID, FORGOTTEN) == 0
    assert cost_counters(stores, SECOND_SALON_ID, FORGOTTEN) == 1
    # including the delivery statuses of the second salon's replies, which name the phone
    assert report.postgresql["message_statuses"] == 3
    assert _statuses_of(db, FORGOTTEN) == 3


def _salon_rows(conn: Connection, salon_id: object) -> dict[str, int]:
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM clients WHERE salon_id = %(s)s) AS clients,
               (SELECT count(*) FROM ai_conversations WHERE salon_id = %(s)s) AS conversations,
               (SELECT count(*) FROM inbound_messages WHERE salon_id = %(s)s) AS ledger
        """,
        {"s": salon_id},
    ).fetchone()
    conn.commit()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


def _statuses_of(conn: Connection, phone: str) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM message_statuses WHERE recipient = %s", (phone.lstrip("+"),)
    ).fetchone()
    conn.commit()
    return int(row["n"]) if row else 0


def test_a_customer_never_booked_is_deleted_and_unknown_salons_refused(
    db: Connection, stores: Stores
) -> None:
    import_demo_salon(db)
    db.execute(
        "INSERT INTO clients (salon_id, phone, name) VALUES (%s, %s, 'Мария')",
        (DEMO_SALON_ID, FORGOTTEN),
    )
    db.commit()
    report = forget_customer(db, DEMO_SALON_ID, "+7 (900) 123-45-67", items=stores.items())
    assert (report.postgresql["clients_deleted"], report.postgresql["clients_anonymised"]) == (
        1,
        0,
    )
    assert db.execute("SELECT count(*) AS n FROM clients").fetchone() == {"n": 0}
    db.commit()
    with pytest.raises(UnknownSalon):
        forget_customer(db, "3f0c1a52-0000-4000-8000-00000000dead", FORGOTTEN)


def test_a_table_it_has_no_name_for_is_reported_not_reached(db: Connection) -> None:
    import_demo_salon(db)
    report = forget_customer(db, DEMO_SALON_ID, FORGOTTEN, items=CustomerItems({}))
    assert report.not_configured == [kind.name for kind in ITEM_KINDS]
    assert report.dynamodb == {}


def test_a_dynamodb_failure_rolls_the_whole_erasure_back(db: Connection) -> None:
    # Given a customer's conversation, and DynamoDB refusing every request
    import_demo_salon(db)
    db.execute(
        "INSERT INTO ai_conversations (id, salon_id, phone_number) VALUES (%s, %s, %s)",
        (conversation_id(DEMO_SALON_ID, FORGOTTEN), DEMO_SALON_ID, FORGOTTEN),
    )
    db.commit()
    with mock_aws():
        refusing = boto3.client("dynamodb", region_name=REGION)  # no tables: every call fails
        items = CustomerItems({"rate_limit_table": "missing"}, client=refusing)
        # When the erasure runs
        with pytest.raises(ErasureFailed):
            forget_customer(db, DEMO_SALON_ID, FORGOTTEN, items=items)
    # Then nothing was deleted in PostgreSQL either: running it again finishes the job
    assert db.execute("SELECT count(*) AS n FROM ai_conversations").fetchone() == {"n": 1}
    db.commit()
