"""salonbot behind a transaction pooler, as behind RDS Proxy: PgBouncer in transaction
mode refuses startup options and runs each transaction on whichever server connection is
free. A whole processor turn, the booking race and concurrent migrations work through
it; every statement runs with the timeouts; nothing sent would pin an RDS Proxy session."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

from salonbot.booking.catalog import Salon, load_salon
from salonbot.booking.store import Booking, create_booking
from salonbot.db.connection import Connection, connect
from salonbot.db.migrate import available_migrations, migrate
from salonbot.errors import SlotTaken
from salonbot.processing.pipeline import REPLIED
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, ToolCall
from tests.integration.pooler.conftest import pooled_settings
from tests.integration.pooler.pgbouncer import PgBouncer
from tests.integration.pooler.wire import Sent, pinning, recorded, untimed
from tests.integration.processor.harness import (
    MOSCOW,
    TUESDAY,
    bookings_of,
    build_harness,
    import_demo_salon,
    sent_texts,
    settings_for,
)
from tests.integration.racing import ATTEMPTS, race
from tests.integration.salon_builder import BERLIN_SALON_ID, MONDAY, NOW, at, berlin_salon

pytestmark = pytest.mark.integration


def backend_gone(db: Connection, pid: int) -> bool:
    """Wait (a few seconds at most) for the server to end backend `pid`."""
    for _ in range(100):
        db.rollback()
        row = db.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = %s", (pid,))
        if row.fetchone() == {"n": 0}:
            return True
        time.sleep(0.1)
    return False


def test_the_pooler_refuses_startup_options_and_moves_transactions_between_servers(
    pgbouncer: PgBouncer,
) -> None:
    # When a client sends a setting in the startup packet, as salonbot used to
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(pgbouncer.url(), options="-c statement_timeout=5000")

    # Then it is refused; and one client's transactions run on several server connections
    with psycopg.connect(pgbouncer.url(), autocommit=True) as conn:
        pids = {conn.execute("SELECT pg_backend_pid()").fetchone() for _ in range(4)}
    assert len(pids) > 1


def test_timeouts_hold_in_every_transaction_through_the_pooler(
    pgbouncer: PgBouncer, db: Connection
) -> None:
    settings = pooled_settings(db_statement_timeout_ms=300, db_idle_in_transaction_timeout_ms=400)
    with connect(pgbouncer.url(), settings) as conn:
        # Implicit transactions, explicit ones and lone statements, on any server connection
        shown = [conn.execute("SHOW statement_timeout").fetchone() for _ in range(3)]
        conn.commit()
        with conn.transaction():
            shown.append(conn.execute("SHOW idle_in_transaction_session_timeout").fetchone())
        conn.autocommit = True
        shown += [conn.execute("SHOW statement_timeout").fetchone() for _ in range(3)]
    assert (
        shown
        == [{"statement_timeout": "300ms"}] * 3
        + [{"idle_in_transaction_session_timeout": "400ms"}]
        + [{"statement_timeout": "300ms"}] * 3
    )

    # Given another connection holds a lock on the bookings table
    db.execute("LOCK TABLE bookings IN ACCESS EXCLUSIVE MODE")
    try:
        with connect(pgbouncer.url(), settings) as conn:
            conn.autocommit = True
            # When a lone statement waits behind it, the statement timeout ends the wait
            with pytest.raises(pg_errors.QueryCanceled):
                conn.execute("SELECT count(*) FROM bookings")
    finally:
        db.rollback()


def test_an_abandoned_transaction_through_the_pooler_is_ended_and_its_locks_freed(
    pgbouncer: PgBouncer, db: Connection
) -> None:
    # Given a salon row locked by a client that then goes quiet in its transaction
    berlin_salon(db)
    db.commit()
    settings = pooled_settings(db_idle_in_transaction_timeout_ms=300)
    with connect(pgbouncer.url(), settings) as quiet:
        row = quiet.execute("SELECT pg_backend_pid() AS pid").fetchone()
        assert row is not None
        quiet.execute("SELECT id FROM salons WHERE id = %s FOR UPDATE", (BERLIN_SALON_ID,))

        # Then the server ends that transaction, and the row is free for others
        assert backend_gone(db, row["pid"])
        locked = db.execute(
            "SELECT id FROM salons WHERE id = %s FOR UPDATE NOWAIT", (BERLIN_SALON_ID,)
        ).fetchall()
        assert len(locked) == 1
        db.rollback()
        # and the quiet client learns it on its next statement
        with pytest.raises(psycopg.Error):
            quiet.execute("SELECT 1")


def _booked(request: ModelRequest) -> Answer:
    booked = request.tool_result()["booked"]
    return Answer(f"Готово! {booked['start']}, мастер {booked['master']}. Код: {booked['code']}.")


def _free(request: ModelRequest) -> Answer:
    return Answer("Свободно: " + ", ".join(request.tool_result()["free"]["anna"]))


def test_a_whole_processor_turn_runs_through_the_pooler_without_pinning(
    pgbouncer: PgBouncer,
    db: Connection,
    pooled: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
) -> None:
    # Given the demo salon and a processor whose connection goes through PgBouncer
    import_demo_salon(db)
    harness = build_harness(pooled, settings_for(fake_openai, fake_whatsapp))
    fake_openai.add(
        Answer(
            tool_calls=[
                ToolCall("slots", {"service": "manicure", "date": str(TUESDAY), "master": "anna"})
            ]
        ),
        _free,
        Answer(tool_calls=[ToolCall("book", {"service": "manicure", "start": f"{TUESDAY} 15:00"})]),
        _booked,
    )

    # When the customer asks for Tuesday and books 15:00, each message a whole turn
    with recorded(pooled) as sent:
        outcomes = [harness.say("Маникюр во вторник?"), harness.say("Запишите на 15:00")]

    # Then both were answered and the booking is in PostgreSQL under the code replied
    assert outcomes == [REPLIED, REPLIED]
    (booking,) = bookings_of(db)
    assert booking["starts_at"].astimezone(MOSCOW).hour == 15
    assert booking["code"] in sent_texts(fake_whatsapp)[-1]
    # and every statement ran with the timeouts, none would pin an RDS Proxy session
    assert pinning(sent) == []
    assert untimed(sent) == []
    # (the record holds the turn's statements: the booking's time was locked for the write)
    assert any("pg_advisory_xact_lock" in s.sql for s in sent)
    assert any("INSERT INTO bookings" in s.sql for s in sent)


def test_the_wire_checks_see_what_would_pin_or_run_untimed() -> None:
    sent = [
        Sent("SET statement_timeout = 5000", in_transaction=False),
        Sent("BEGIN", in_transaction=False),
        Sent("SELECT pg_advisory_lock($1, $2)", in_transaction=True),
        Sent("SELECT 1", in_transaction=True, prepared_as="_pg3_0"),
        Sent("COMMIT", in_transaction=True),
        Sent("BEGIN", in_transaction=False),
        Sent("SET LOCAL statement_timeout = 5000", in_transaction=True),
        Sent("SELECT pg_advisory_xact_lock($1, $2)", in_transaction=True),
        Sent("SELECT set_config('lock_timeout', $1, true)", in_transaction=True),
        Sent("COMMIT", in_transaction=True),
    ]

    assert pinning(sent) == [
        "a named prepared statement: SELECT 1",
        "a session SET: SET statement_timeout = 5000",
        "a session advisory lock: SELECT pg_advisory_lock($1, $2)",
    ]
    assert untimed(sent) == [
        "outside a transaction: SET statement_timeout = 5000",
        "in a transaction without the timeouts: SELECT pg_advisory_lock($1, $2)",
        "in a transaction without the timeouts: SELECT 1",
    ]


def _pooled_connection(pgbouncer: PgBouncer) -> Any:
    """Through the pooler, in autocommit as the processor works: a transaction holds a
    server connection only while it runs (24 racers share a pool of 6)."""

    def open_connection(_url: str) -> Connection:
        conn = connect(pgbouncer.url(), pooled_settings())
        conn.autocommit = True
        return conn

    return open_connection


def test_the_booking_race_through_the_pooler_leaves_exactly_one_booking(
    pgbouncer: PgBouncer, db: Connection, database_url: str
) -> None:
    # Given anna is free all Monday morning
    berlin_salon(db)
    db.commit()
    offsets = [0, 15, 30, 45]  # every pair overlaps (a manicure blocks 70 minutes)

    def book(conn: Connection, salon: Salon, i: int) -> Booking:
        starts_at = at(MONDAY, 10, offsets[i % len(offsets)])
        return create_booking(
            conn, salon, phone=f"+49151{i:08d}", service_code="manicure", master_code="anna",
            starts_at=starts_at, now=NOW,
        )  # fmt: skip

    # When 24 customers try to book her at once, each through the pooler
    results = race(database_url, book, open_connection=_pooled_connection(pgbouncer))

    # Then exactly one booking exists and every other attempt got SlotTaken
    assert Counter(type(r).__name__ for r in results) == Counter(
        {"Booking": 1, "SlotTaken": ATTEMPTS - 1}
    )
    winner = next(r for r in results if isinstance(r, Booking))
    assert [r["code"] for r in db.execute("SELECT code FROM bookings").fetchall()] == [winner.code]


def test_a_pending_booking_through_the_pooler_holds_only_its_own_time(
    pgbouncer: PgBouncer, db: Connection
) -> None:
    # Given customer A booked anna at 10:00 in a turn still open
    berlin_salon(db)
    db.commit()
    with (
        connect(pgbouncer.url(), pooled_settings()) as pending,
        connect(pgbouncer.url(), pooled_settings()) as other,
    ):
        salon = load_salon(pending, BERLIN_SALON_ID)
        with pending.transaction():
            create_booking(
                pending, salon, phone="+4915100000001", service_code="manicure",
                starts_at=at(MONDAY, 10), master_code="anna", now=NOW,
            )  # fmt: skip

            # When B books anna at 15:00 the same day, B gets it (A holds no day lock)
            later = create_booking(
                other, load_salon(other, BERLIN_SALON_ID), phone="+4915100000002",
                service_code="manicure", starts_at=at(MONDAY, 15), master_code="anna", now=NOW,
            )  # fmt: skip
            other.commit()
            assert later.master_code == "anna"
            # When C asks for a time overlapping A's pending one, C is told it is taken
            with pytest.raises(SlotTaken):
                create_booking(
                    other, load_salon(other, BERLIN_SALON_ID), phone="+4915100000003",
                    service_code="manicure", starts_at=at(MONDAY, 10, 30), master_code="anna",
                    now=NOW,
                )  # fmt: skip
            other.rollback()
    # Then A's and B's bookings stand
    starts = sorted(r["starts_at"] for r in db.execute("SELECT starts_at FROM bookings"))
    assert starts == [at(MONDAY, 10), at(MONDAY, 15)]


@pytest.fixture
def empty_database(database_url: str, pgbouncer: PgBouncer) -> Iterator[str]:
    """A database with no schema yet, reached through the pooler."""
    name = f"salonbot_pooled_{uuid.uuid4().hex[:8]}"
    with connect(database_url) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pgbouncer.url(name)
    with connect(database_url) as admin:
        admin.autocommit = True
        admin.execute("SET statement_timeout = 0")
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_concurrent_deploys_through_the_pooler_apply_each_migration_once(
    empty_database: str,
) -> None:
    applied: list[int] = []
    errors: list[BaseException] = []
    records: list[list[Sent]] = []
    barrier = threading.Barrier(3)

    def deploy() -> None:
        try:
            with connect(empty_database, pooled_settings()) as conn, recorded(conn) as sent:
                records.append(sent)
                barrier.wait()
                applied.extend(m.version for m in migrate(conn))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(applied) == [m.version for m in available_migrations()]
    # and no deploy held anything on a session (the migrations' own SQL aside)
    locks = [s for sent in records for s in sent if "advisory" in s.sql]
    assert locks and pinning(locks) == []
