"""PostgreSQL down, slow (a statement timeout behind another connection's lock) and a
connection the server closed while the container was frozen: the message goes back to
the queue, is processed once the database is back (one booking, one reply), and a
message that keeps failing ends in the DLQ, where the DLQ alarm's metric sees it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from salonbot.assistant.agent import LlmAgent, openai_client
from salonbot.assistant.fallback import FixedReply
from salonbot.assistant.router import AssistantRouter
from salonbot.config import Settings
from salonbot.cost.guard_protocol import UnlimitedSpend
from salonbot.db import connection as db_connection
from salonbot.db.connection import Connection, connect, get_connection, reset_connection
from salonbot.processing.pipeline import MessageProcessor
from salonbot.processing.staff import StaffNotifier
from salonbot.whatsapp.client import WhatsAppClient
from salonbot.whatsapp.events import InboundMessage, QueueEnvelope
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.conftest import REPO_ROOT
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, ToolCall
from tests.integration.faults.conftest import TEMPLATE, ProcessorRig, Queues
from tests.integration.processor.harness import (
    CUSTOMER,
    DEMO_PHONE_NUMBER_ID,
    Clock,
    bookings_of,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration

GROUP = f"{DEMO_PHONE_NUMBER_ID}:{CUSTOMER.lstrip('+')}"


def closed_port_url() -> str:
    """A PostgreSQL URL on 127.0.0.1 where nothing listens (the database is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://salonbot@127.0.0.1:{port}/salonbot"


@dataclass
class Database:
    """Where the processor's container connects; tests point it elsewhere to fail."""

    url: str
    settings: Settings
    backend_pids: list[int] = field(default_factory=list)

    def connection(self) -> Connection:
        conn = get_connection(self.settings.model_copy(update={"database_url": self.url}))
        self.backend_pids.append(conn.info.backend_pid)
        return conn


@dataclass
class Fixture:
    db: Connection
    database: Database
    queues: Queues
    rig: ProcessorRig
    fake_openai: FakeOpenAI
    fake_whatsapp: FakeWhatsApp
    clock: Clock

    def enqueue(self, text: str, wamid: str) -> str:
        message = InboundMessage(
            phone_number_id=DEMO_PHONE_NUMBER_ID,
            message_id=wamid,
            wa_id=CUSTOMER.lstrip("+"),
            timestamp=self.clock.now,
            type="text",
            text=text,
        )
        body = QueueEnvelope(event=message, enqueued_at=self.clock.now).model_dump_json()
        self.queues.send(body, group=GROUP, dedup_id=wamid)
        return body

    def ledger(self) -> list[dict[str, Any]]:
        return rows(self.db, "SELECT message_id, reply_status FROM inbound_messages")


def book_and_confirm() -> list[Any]:
    def confirm(request: ModelRequest) -> Answer:
        return Answer(f"Записали! Код {request.tool_result()['booked']['code']}.")

    book = Answer(
        tool_calls=[ToolCall("book", {"service": "manicure", "start": "2030-01-07 12:00"})]
    )
    return [book, confirm]


@pytest.fixture
def fx(
    db: Connection,
    database_url: str,
    queues: Queues,
    processor_rig: Callable[[MessageProcessor], ProcessorRig],
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
) -> Iterator[Fixture]:
    import_demo_salon(db)
    settings = settings_for(
        fake_openai,
        fake_whatsapp,
        database_url=database_url,
        db_connect_timeout_s=1,
        db_statement_timeout_ms=300,
    )
    database = Database(database_url, settings)
    clock = Clock()
    client = openai_client(settings)
    assert client is not None
    router = AssistantRouter(
        agent=LlmAgent(client, settings, guard=UnlimitedSpend(), clock=clock),
        fallback=FixedReply(),
    )
    processor = MessageProcessor(
        settings,
        assistant=router,
        whatsapp=WhatsAppClient(settings),
        staff=StaffNotifier(None),
        connection=database.connection,
        clock=clock,
    )
    reset_connection()
    yield Fixture(db, database, queues, processor_rig(processor), fake_openai, fake_whatsapp, clock)
    reset_connection()


def _assert_one_booking_one_reply(fx: Fixture) -> None:
    (booking,) = bookings_of(fx.db)
    (reply,) = sent_texts(fx.fake_whatsapp)
    assert booking["code"] in reply
    assert [r["reply_status"] for r in fx.ledger()] == ["sent"]
    assert fx.queues.counts(fx.queues.inbound_url) == (0, 0)
    assert fx.queues.counts(fx.queues.dlq_url) == (0, 0)


def test_database_down_returns_the_message_then_processes_it_once_when_back(fx: Fixture) -> None:
    # Given the database is down
    fx.database.url = closed_port_url()
    fx.enqueue("Маникюр сегодня в 12:00", "wamid.down.1")

    # When the processor receives the message
    first = fx.rig.poll_until_received()

    # Then it is reported as failed and stays in the queue; nothing happened anywhere
    assert (first.deleted, first.kept) == (0, 1)
    assert fx.queues.counts(fx.queues.inbound_url) == (0, 1)
    assert fx.fake_openai.requests == [] and fx.fake_whatsapp.requests == []

    # When the database is back and the visibility timeout passed
    fx.database.url = fx.database.settings.database_url or ""
    fx.fake_openai.add(*book_and_confirm())
    second = fx.rig.poll_until_received()

    # Then the second receive processed it: one booking, one reply, the queue empty
    assert (second.deleted, second.kept) == (1, 0)
    assert fx.rig.receive_counts == [[1], [2]]
    _assert_one_booking_one_reply(fx)


def test_a_backend_killed_mid_turn_redoes_the_turn_once(fx: Fixture) -> None:
    # Given the server terminates the processor's backend while the model is thinking
    killed: list[bool] = []

    def kill_backend_then_book(request: ModelRequest) -> Answer:
        with connect(fx.database.url) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (fx.database.backend_pids[-1],))
        killed.append(True)
        return book_and_confirm()[0]

    fx.fake_openai.add(kill_backend_then_book)
    fx.enqueue("Маникюр сегодня в 12:00", "wamid.killed.1")

    # When the processor receives the message, the booking fails on the dead connection
    first = fx.rig.poll_until_received()
    assert killed and (first.deleted, first.kept) == (0, 1)
    assert bookings_of(fx.db) == [] and fx.ledger() == []

    # Then the redelivery opens a new connection and does the turn once
    fx.fake_openai.add(*book_and_confirm())
    second = fx.rig.poll_until_received()
    assert (second.deleted, second.kept) == (1, 0)
    assert len(set(fx.database.backend_pids)) == 2
    _assert_one_booking_one_reply(fx)


def test_a_statement_timeout_behind_a_lock_returns_the_message_then_books_once(
    fx: Fixture,
) -> None:
    # Given another connection holds a lock on the bookings table (a slow migration, say)
    locker = connect(fx.database.url)
    locker.execute("LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE")
    fx.fake_openai.add(book_and_confirm()[0])
    fx.enqueue("Маникюр сегодня в 12:00", "wamid.slow.1")
    try:
        # When the booking waits past the statement timeout (300 ms here)
        started = time.monotonic()
        first = fx.rig.poll_until_received()
        assert time.monotonic() - started < 5

        # Then the message returns to the queue and nothing of the turn was kept
        assert (first.deleted, first.kept) == (0, 1)
        assert fx.fake_whatsapp.requests == []
    finally:
        locker.rollback()
        locker.close()
    assert bookings_of(fx.db) == [] and fx.ledger() == []

    # When the lock is gone, the redelivery books once and replies once (the turn may have
    # timed out before or after its model call: the redelivery starts the script afresh)
    fx.fake_openai.reset()
    fx.fake_openai.add(*book_and_confirm())
    second = fx.rig.poll_until_received()
    assert (second.deleted, second.kept) == (1, 0)
    _assert_one_booking_one_reply(fx)


def _terminate(fx: Fixture, pid: int) -> None:
    with connect(fx.database.url) as admin:
        admin.autocommit = True  # a fresh pg_stat_activity snapshot per query
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(50):
            alive = admin.execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if alive and alive["n"] == 0:
                return
            time.sleep(0.02)
    raise AssertionError("the backend did not go away")


def test_a_connection_closed_while_the_container_was_frozen_is_replaced_before_use(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a container that processed a message and kept its connection
    fx.fake_openai.add(Answer("Здравствуйте!"))
    fx.enqueue("Привет", "wamid.frozen.1")
    assert fx.rig.poll_until_received().deleted == 1
    stale_pid = fx.database.backend_pids[-1]

    # When it sits frozen for minutes, while the server closes that connection
    _terminate(fx, stale_pid)
    monkeypatch.setattr(
        db_connection, "_last_used", time.monotonic() - db_connection.IDLE_PROBE_AFTER_S - 1
    )
    fx.fake_openai.add(*book_and_confirm())
    fx.enqueue("Маникюр сегодня в 12:00", "wamid.frozen.2")

    # Then the thawed container probes, reconnects and processes on the first receive
    outcome = fx.rig.poll_until_received()
    assert (outcome.deleted, outcome.kept) == (1, 0)
    assert fx.rig.receive_counts == [[1], [1]]
    assert fx.database.backend_pids[-1] != stale_pid
    (booking,) = bookings_of(fx.db)
    assert sent_texts(fx.fake_whatsapp)[-1] == f"Записали! Код {booking['code']}."
    assert len(sent_texts(fx.fake_whatsapp)) == 2


def test_a_connection_closed_just_before_use_fails_once_then_is_replaced(fx: Fixture) -> None:
    # Given a container whose connection the server closed moments ago (no probe is due)
    fx.fake_openai.add(Answer("Здравствуйте!"))
    fx.enqueue("Привет", "wamid.closed.1")
    assert fx.rig.poll_until_received().deleted == 1
    _terminate(fx, fx.database.backend_pids[-1])
    fx.enqueue("Маникюр сегодня в 12:00", "wamid.closed.2")

    # When the next message comes, the dead connection fails it and is dropped
    first = fx.rig.poll_until_received()
    assert (first.deleted, first.kept) == (0, 1)

    # Then the redelivery runs on a new connection: one booking, one reply to it
    fx.fake_openai.add(*book_and_confirm())
    second = fx.rig.poll_until_received()
    assert (second.deleted, second.kept) == (1, 0)
    (booking,) = bookings_of(fx.db)
    assert sent_texts(fx.fake_whatsapp) == ["Здравствуйте!", f"Записали! Код {booking['code']}."]


def test_a_message_failing_max_receive_count_times_lands_in_the_dlq_and_alarms(
    fx: Fixture,
) -> None:
    # Given the database stays down
    fx.database.url = closed_port_url()
    body = fx.enqueue("Маникюр сегодня в 12:00", "wamid.dlq.1")
    assert fx.queues.max_receive_count == 10

    # When the queue keeps redelivering it
    deadline = time.monotonic() + 40
    while fx.queues.counts(fx.queues.inbound_url) != (0, 0) and time.monotonic() < deadline:
        fx.rig.poller.poll_once()

    # Then it was tried maxReceiveCount times, then moved to the DLQ, intact
    assert fx.rig.receive_counts == [[n] for n in range(1, fx.queues.max_receive_count + 1)]
    assert fx.queues.counts(fx.queues.inbound_url) == (0, 0)
    visible, _ = fx.queues.counts(fx.queues.dlq_url)
    alarm = TEMPLATE.resources["DeadLetterAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert visible == 1 > alarm["Threshold"]  # the alarm's metric moved past its threshold
    (dead,) = fx.queues.clients.sqs.receive_message(QueueUrl=fx.queues.dlq_url)["Messages"]
    assert json.loads(dead["Body"]) == json.loads(body)
    assert fx.fake_openai.requests == [] and fx.fake_whatsapp.requests == []
    assert fx.ledger() == [] and bookings_of(fx.db) == []


def test_the_template_queue_is_what_these_tests_rely_on() -> None:
    queue = TEMPLATE.resources["InboundQueue"]["Properties"]
    processor = TEMPLATE.function_properties("ProcessorFunction")
    assert queue["FifoQueue"] is True and queue["RedrivePolicy"]["maxReceiveCount"] == 10
    # Lambda's advice: a visibility timeout of at least six times the function timeout
    assert queue["VisibilityTimeout"] >= 6 * processor["Timeout"]
    assert (REPO_ROOT / "functions" / "processor" / "app.py").is_file()
    assert psycopg.OperationalError  # the error class the processor treats as transient


def test_a_statement_timeout_in_the_guided_flow_is_retried_not_apologised_for(
    db: Connection, database_url: str, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a customer of the guided flow (no model) about to confirm a booking, on a
    # connection with a short statement timeout
    from salonbot.whatsapp.events import InteractiveReply
    from tests.integration.processor.guided_harness import Customer, guided_harness

    import_demo_salon(db)
    slow = connect(database_url, settings_for(None, fake_whatsapp, db_statement_timeout_ms=300))
    try:
        harness = guided_harness(slow, fake_whatsapp)
        customer = Customer(harness, fake_whatsapp)
        customer.say("Хочу на маникюр к Анне завтра в 15:00")
        confirm = customer.choice("Подтвердить")
        tap = harness.body(
            None,
            wamid="wamid.guided.confirm",
            interactive=InteractiveReply.model_validate(
                {"kind": confirm.kind, "id": confirm.id, "title": confirm.title}
            ),
        )
        replies_before = len(fake_whatsapp.sent)

        # When the confirmation waits behind another connection's lock past the timeout
        locker = connect(database_url)
        locker.execute("LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE")
        try:
            with pytest.raises(psycopg.errors.QueryCanceled):
                harness.process(tap)
        finally:
            locker.rollback()
            locker.close()

        # Then the error reached the queue (a retry), with no apology and nothing kept
        assert len(fake_whatsapp.sent) == replies_before
        assert bookings_of(db) == []
        assert (
            rows(db, "SELECT 1 FROM inbound_messages WHERE message_id = 'wamid.guided.confirm'")
            == []
        )

        # And the redelivery books once and confirms once
        harness.process(tap)
        harness.process(tap)
        (booking,) = bookings_of(db)
        confirmations = [t for t in sent_texts(fake_whatsapp) if booking["code"] in t]
        assert len(confirmations) == 1
        assert confirmations[0].startswith("Готово! Вы записаны: Маникюр, 08.01 15:00")
    finally:
        slow.close()
