"""Retention on a real PostgreSQL with 100k messages: exactly the old rows go, in batches,
safely when two runs overlap, and bookings are never deleted. Every row that holds a
phone has an end: ledger rows pending or not, and idle clients (anonymised)."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import Settings
from salonbot.db.connection import Connection, connect
from salonbot.observability import MetricName, metrics
from salonbot.retention import RetentionPolicy, purge_old_ai_data, run_cleanup
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Scale:
    conversations: int = 2000  # old ones, and as many recent ones
    messages_per_side: int = 50_000  # 100k messages in all
    ancient_in_recent: int = 10_000  # messages over 90 days old in active conversations

    def expected_after(self) -> dict[str, int]:
        return {
            # the recent ones, edge_kept and the running hand-off
            "conversations": self.conversations + 2,
            # recent messages newer than 90 days, edge_kept's newer one, the hand-off's
            "messages": self.messages_per_side - self.ancient_in_recent + 1 + 1,
            "bookings": 2,
            "clients": 1,
            "old": 0,
            "ancient": 0,
        }


FULL = Scale()
SMALL = Scale(conversations=200, messages_per_side=5000, ancient_in_recent=1000)


def _seed(conn: Connection, scale: Scale) -> None:
    """Old conversations (idle 40 days) with their messages, recent conversations with
    some messages older than 90 days, edge cases around the cutoffs, and bookings."""
    import_salon(conn, load_salon_file(DEMO_SALON_FILE))
    p = {"salon": DEMO_SALON_ID, "now": NOW, "n": scale.conversations}
    conn.execute(
        """
        INSERT INTO ai_conversations (id, salon_id, phone_number, last_message_at, created_at)
        SELECT 'old_' || g, %(salon)s, '+1000' || g,
               %(now)s - interval '40 days', %(now)s - interval '120 days'
        FROM generate_series(1, %(n)s) g
        UNION ALL
        SELECT 'new_' || g, %(salon)s, '+2000' || g,
               %(now)s - interval '1 day', %(now)s - interval '200 days'
        FROM generate_series(1, %(n)s) g
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO ai_messages (conversation_id, salon_id, role, content, cost, created_at)
        SELECT 'old_' || (g %% %(n)s + 1), %(salon)s, 'user', 'old chat', 0.0001,
               %(now)s - interval '45 days'
        FROM generate_series(1, %(m)s) g
        UNION ALL
        SELECT 'new_' || (g %% %(n)s + 1), %(salon)s, 'assistant', 'reply', 0.0001,
               CASE WHEN g <= %(ancient)s THEN %(now)s - interval '100 days'
                    ELSE %(now)s - interval '2 days' END
        FROM generate_series(1, %(m)s) g
        """,
        {**p, "m": scale.messages_per_side, "ancient": scale.ancient_in_recent},
    )
    # Edges: just inside and just outside the cutoffs; an old hand-off still running.
    conn.execute(
        """
        INSERT INTO ai_conversations (id, salon_id, phone_number, last_message_at, handoff_until)
        VALUES ('edge_kept', %(salon)s, '+3001', %(now)s - interval '30 days' + interval '1 minute', NULL),
               ('edge_gone', %(salon)s, '+3002', %(now)s - interval '30 days' - interval '1 minute', NULL),
               ('handoff', %(salon)s, '+3003', %(now)s - interval '45 days', %(now)s + interval '1 day')
        """,  # noqa: E501
        p,
    )
    conn.execute(
        """
        INSERT INTO ai_messages (conversation_id, salon_id, role, created_at) VALUES
            ('edge_kept', %(salon)s, 'user', %(now)s - interval '90 days' + interval '1 minute'),
            ('edge_kept', %(salon)s, 'user', %(now)s - interval '90 days' - interval '1 minute'),
            ('handoff', %(salon)s, 'user', %(now)s - interval '45 days')
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO clients (salon_id, phone) VALUES (%(salon)s, '+10001')
        """,
        p,
    )
    conn.execute(
        """
        INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, starts_at,
                              ends_at, blocked_until, price, created_at)
        SELECT b.code, %(salon)s, m.id, s.id, c.id, at, at + interval '1 hour',
               at + interval '1 hour', 1500, at
        FROM (VALUES ('OLD1', %(now)s - interval '400 days'),
                     ('NEW1', %(now)s + interval '2 days')) AS b(code, at),
             masters m, services s, clients c
        WHERE m.code = 'anna' AND s.code = 'manicure' AND c.phone = '+10001'
        """,
        p,
    )
    conn.commit()


def _counts(conn: Connection) -> dict[str, int]:
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM ai_conversations) AS conversations,
               (SELECT count(*) FROM ai_messages) AS messages,
               (SELECT count(*) FROM bookings) AS bookings,
               (SELECT count(*) FROM clients) AS clients,
               (SELECT count(*) FROM ai_conversations WHERE id LIKE 'old_%%') AS old,
               (SELECT count(*) FROM ai_messages WHERE created_at < %(c)s) AS ancient
        """,
        {"c": NOW - dt.timedelta(days=90)},
    ).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


@pytest.fixture
def seeded(db: Connection) -> Connection:
    _seed(db, FULL)
    return db


@pytest.fixture
def small(db: Connection) -> Connection:
    _seed(db, SMALL)
    return db


def test_cleanup_keeps_exactly_what_it_must(seeded: Connection) -> None:
    # Given 100k messages, half in conversations idle for 40 days
    before = _counts(seeded)
    assert before["messages"] == 2 * FULL.messages_per_side + 3
    assert before["bookings"] == 2
    # When the cleanup runs with the default policy and small batches
    result = purge_old_ai_data(seeded, RetentionPolicy(batch_size=1000), now=NOW)
    # Then old conversations, their messages and messages over 90 days are gone, and
    # everything else (bookings above all) is as it was
    assert _counts(seeded) == FULL.expected_after()
    assert result.complete
    assert result.messages_deleted == FULL.ancient_in_recent + 1
    assert result.conversations_deleted == FULL.conversations + 1
    assert result.messages_cascaded == FULL.messages_per_side
    # Batches were bounded: no batch deleted more than 1000 rows
    assert result.batches >= (FULL.ancient_in_recent + 1) // 1000 + (FULL.conversations + 1) // 1000
    others = seeded.execute("SELECT id FROM ai_conversations WHERE id NOT LIKE 'new_%%'")
    kept = {r["id"] for r in others}
    assert kept == {"edge_kept", "handoff"}


def test_a_second_run_finds_nothing(small: Connection) -> None:
    purge_old_ai_data(small, RetentionPolicy(batch_size=5000), now=NOW)
    again = purge_old_ai_data(small, RetentionPolicy(batch_size=5000), now=NOW)
    assert (again.messages_deleted, again.conversations_deleted) == (0, 0)
    assert _counts(small) == SMALL.expected_after()


def test_two_runs_at_once_share_the_work(seeded: Connection, database_url: str) -> None:
    # Given two cleanup runs started at the same moment on separate connections
    barrier = threading.Barrier(2)

    def run() -> tuple[int, int, int]:
        with connect(database_url) as conn:
            barrier.wait()
            r = purge_old_ai_data(conn, RetentionPolicy(batch_size=500), now=NOW)
            return r.messages_deleted, r.conversations_deleted, r.messages_cascaded

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: run(), range(2)))
    # Then neither failed, nothing was deleted twice, and the end state is exact
    assert sum(r[0] for r in results) == FULL.ancient_in_recent + 1
    assert sum(r[1] for r in results) == FULL.conversations + 1
    assert sum(r[2] for r in results) == FULL.messages_per_side
    assert _counts(seeded) == FULL.expected_after()


def test_a_deadline_stops_between_batches_and_the_next_run_finishes(
    small: Connection,
) -> None:
    calls = {"n": 0}

    def near_timeout() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    partial = purge_old_ai_data(
        small, RetentionPolicy(batch_size=100), now=NOW, deadline=near_timeout
    )
    assert not partial.complete
    assert partial.messages_deleted == 300
    purge_old_ai_data(small, RetentionPolicy(batch_size=1000), now=NOW)
    assert _counts(small) == SMALL.expected_after()


def test_retention_periods_are_parameters(small: Connection) -> None:
    # A 50-day conversation retention keeps the conversations idle for 40 days
    purge_old_ai_data(
        small, RetentionPolicy(conversation_days=50, message_days=90, batch_size=5000), now=NOW
    )
    assert _counts(small)["old"] == SMALL.conversations


def test_run_cleanup_counts_deletions_as_metrics(small: Connection, database_url: str) -> None:
    metrics.clear_metrics()
    settings = Settings(database_url=database_url, cleanup_batch_size=5000)
    result = run_cleanup(settings, conn=small)
    assert result.complete
    assert metrics.metric_set[MetricName.CONVERSATIONS_DELETED]["Value"] == [
        float(result.conversations_deleted)
    ]
    assert metrics.metric_set[MetricName.MESSAGES_DELETED]["Value"] == [
        float(result.messages_deleted + result.messages_cascaded)
    ]
    metrics.clear_metrics()


def _seed_ledger(conn: Connection, now: dt.datetime = NOW) -> None:
    """Ledger rows and delivery statuses 100, 20 and 10 days old, finished or not."""
    import_salon(conn, load_salon_file(DEMO_SALON_FILE))
    conn.execute(
        """
        INSERT INTO inbound_messages (message_id, salon_id, phone_number, received_at,
                                      processed_at, reply, reply_status)
        SELECT 'wamid.' || st || '.' || age, %(salon)s, '+79001234567', at, at,
               '[{"payload": {"text": {"body": "Готово! Вы записаны"}}}]'::jsonb, st
        FROM unnest(ARRAY['sent', 'none', 'failed', 'pending']) st,
             unnest(ARRAY[100, 20, 10]) age,
             LATERAL (SELECT %(now)s - make_interval(days => age) AS at) t
        """,
        {"salon": DEMO_SALON_ID, "now": now},
    )
    conn.execute(
        """
        INSERT INTO message_statuses (message_id, status, recipient, occurred_at, recorded_at)
        SELECT 'wamid.out.' || age, st, '+79001234567', at, at
        FROM unnest(ARRAY['sent', 'delivered', 'read']) st,
             unnest(ARRAY[100, 20, 10]) age,
             LATERAL (SELECT %(now)s - make_interval(days => age) AS at) t
        """,
        {"now": now},
    )
    conn.commit()


def _ledger(conn: Connection) -> set[str]:
    return {r["message_id"] for r in conn.execute("SELECT message_id FROM inbound_messages")}


def _statuses(conn: Connection) -> set[str]:
    rows = conn.execute("SELECT message_id, status FROM message_statuses")
    return {f"{r['message_id']}:{r['status']}" for r in rows}


LEDGER_STATES = ("sent", "none", "failed", "pending")


def test_ledger_rows_and_statuses_follow_the_message_retention(db: Connection) -> None:
    _seed_ledger(db)
    result = purge_old_ai_data(db, RetentionPolicy(message_days=90, batch_size=2), now=NOW)
    # Rows over 90 days old go, whatever their reply's state
    assert _ledger(db) == {f"wamid.{st}.{age}" for st in LEDGER_STATES for age in (20, 10)}
    assert _statuses(db) == {
        f"wamid.out.{age}:{st}" for st in ("sent", "delivered", "read") for age in (20, 10)
    }
    assert (result.ledger_deleted, result.statuses_deleted) == (4, 3)
    assert result.complete


def test_a_pending_ledger_row_does_not_keep_a_phone_and_a_reply_forever(db: Connection) -> None:
    # Given a reply left pending 100 days ago (its send never finished)
    _seed_ledger(db)
    # When the cleanup runs with the default policy
    purge_old_ai_data(db, RetentionPolicy(), now=NOW)
    # Then its row (the phone and the reply's text) is gone with the finished ones
    assert "wamid.pending.100" not in _ledger(db)
    left = db.execute("SELECT min(processed_at) AS oldest FROM inbound_messages").fetchone()
    assert left is not None and left["oldest"] >= NOW - dt.timedelta(days=90)


def test_ledger_rows_are_kept_14_days_even_with_a_shorter_message_retention(
    db: Connection,
) -> None:
    _seed_ledger(db)
    result = purge_old_ai_data(db, RetentionPolicy(message_days=5, batch_size=1000), now=NOW)
    # A late redelivery must still find its ledger row: 10-day-old rows stay
    assert _ledger(db) == {f"wamid.{st}.10" for st in LEDGER_STATES}
    assert {s.split(":")[0] for s in _statuses(db)} == {"wamid.out.10"}
    assert (result.ledger_deleted, result.statuses_deleted) == (8, 6)
    assert db.execute("SELECT count(*) AS n FROM salons").fetchone() == {"n": 1}


def test_run_cleanup_counts_ledger_and_status_deletions(db: Connection, database_url: str) -> None:
    _seed_ledger(db, dt.datetime.now(dt.UTC))
    metrics.clear_metrics()
    result = run_cleanup(Settings(database_url=database_url), conn=db)
    assert (result.ledger_deleted, result.statuses_deleted) == (4, 3)
    assert metrics.metric_set[MetricName.LEDGER_ROWS_DELETED]["Value"] == [4.0]
    assert metrics.metric_set[MetricName.STATUSES_DELETED]["Value"] == [3.0]
    metrics.clear_metrics()


# -- clients ------------------------------------------------------------------------------

DAY = dt.timedelta(days=1)


def _client(conn: Connection, phone: str, created: dt.datetime) -> int:
    row = conn.execute(
        """
        INSERT INTO clients (salon_id, phone, name, language, created_at)
        VALUES (%s, %s, 'Мария', 'ru', %s) RETURNING id
        """,
        (DEMO_SALON_ID, phone, created),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def _book(
    conn: Connection, code: str, client_id: int, *, starts: dt.datetime, created: dt.datetime
) -> None:
    conn.execute(
        """
        INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, starts_at,
                              ends_at, blocked_until, price, source_message_id, created_at)
        SELECT %(code)s, %(salon)s, m.id, s.id, %(client)s, %(at)s, %(at)s + interval '1 hour',
               %(at)s + interval '1 hour', 1500, 'wamid.' || %(code)s, %(created)s
        FROM masters m, services s WHERE m.code = 'anna' AND s.code = 'manicure'
        """,
        {"code": code, "salon": DEMO_SALON_ID, "client": client_id, "at": starts,
         "created": created},
    )  # fmt: skip


def _seed_clients(conn: Connection) -> None:
    """Clients 800 days old: idle (a booking long past), idle without a booking, booked
    100 days ago, with a booking still to come, chatting last week; and a new one."""
    import_salon(conn, load_salon_file(DEMO_SALON_FILE))
    long_ago = NOW - 800 * DAY
    idle = _client(conn, "+10001", long_ago)
    _book(conn, "IDLE1", idle, starts=NOW - 790 * DAY, created=long_ago)
    _client(conn, "+10002", long_ago)
    booked = _client(conn, "+10003", long_ago)
    _book(conn, "RECENT1", booked, starts=NOW - 99 * DAY, created=NOW - 100 * DAY)
    due = _client(conn, "+10004", long_ago)
    _book(conn, "DUE1", due, starts=NOW + DAY, created=long_ago)
    chatting = _client(conn, "+10005", long_ago)
    _book(conn, "CHAT1", chatting, starts=NOW - 780 * DAY, created=long_ago)
    conn.execute(
        """
        INSERT INTO ai_conversations (id, salon_id, phone_number, last_message_at)
        VALUES ('conv_chatting', %s, '+10005', %s)
        """,
        (DEMO_SALON_ID, NOW - 5 * DAY),
    )
    _client(conn, "+10006", NOW - 10 * DAY)
    conn.commit()


def _clients(conn: Connection) -> dict[int, dict[str, object]]:
    rows = conn.execute("SELECT id, phone, name, language, anonymised_at FROM clients")
    return {int(r["id"]): dict(r) for r in rows}


def _sources(conn: Connection) -> dict[str, str | None]:
    rows = conn.execute("SELECT code, source_message_id FROM bookings")
    return {r["code"]: r["source_message_id"] for r in rows}


def test_idle_clients_are_anonymised_and_their_bookings_kept(db: Connection) -> None:
    # Given clients with and without activity in the last 730 days
    _seed_clients(db)
    # When the cleanup runs, in batches of one
    result = purge_old_ai_data(db, RetentionPolicy(batch_size=1), now=NOW)
    # Then the two idle ones lost phone, name and language, and say when
    clients = _clients(db)
    anonymised = {i for i, c in clients.items() if c["anonymised_at"] is not None}
    assert anonymised == {1, 2}
    for i in anonymised:
        assert clients[i] == {
            "id": i, "phone": None, "name": None, "language": None, "anonymised_at": NOW
        }  # fmt: skip
    assert {c["phone"] for i, c in clients.items() if i not in anonymised} == {
        "+10003", "+10004", "+10005", "+10006"
    }  # fmt: skip
    assert (result.clients_anonymised, result.bookings_anonymised) == (2, 1)
    # And every booking is still there; the idle client's names no message id any more
    assert _sources(db) == {
        "IDLE1": None, "RECENT1": "wamid.RECENT1", "DUE1": "wamid.DUE1", "CHAT1": "wamid.CHAT1"
    }  # fmt: skip
    assert result.complete


def test_a_second_run_anonymises_nobody_more(db: Connection) -> None:
    _seed_clients(db)
    purge_old_ai_data(db, RetentionPolicy(), now=NOW)
    again = purge_old_ai_data(db, RetentionPolicy(), now=NOW)
    assert (again.clients_anonymised, again.bookings_anonymised) == (0, 0)


def test_the_client_retention_is_a_parameter(db: Connection) -> None:
    _seed_clients(db)
    result = purge_old_ai_data(db, RetentionPolicy(client_days=90), now=NOW)
    # 90 days: the client booked 100 days ago goes too; the due and the chatting ones stay
    assert result.clients_anonymised == 3
    kept = {c["phone"] for c in _clients(db).values() if c["phone"] is not None}
    assert kept == {"+10004", "+10005", "+10006"}


def test_run_cleanup_reads_the_client_retention_and_counts_it(
    db: Connection, database_url: str
) -> None:
    _seed_clients(db)
    metrics.clear_metrics()
    settings = Settings.from_env({"DATABASE_URL": database_url, "CLIENT_RETENTION_DAYS": "3000"})
    assert run_cleanup(settings, conn=db).clients_anonymised == 0
    assert metrics.metric_set[MetricName.CLIENTS_ANONYMISED]["Value"] == [0.0]
    metrics.clear_metrics()
