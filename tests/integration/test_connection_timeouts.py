"""Timeouts on a direct connection: set for the session right after connecting (nothing in
the startup packet, which RDS Proxy refuses), and an idle-in-transaction timeout that ends
a transaction its client abandoned, freeing what it locked. (Through a pooler they are
set per transaction: tests/integration/pooler.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from salonbot import admin
from salonbot.config import Settings, get_settings
from salonbot.db.connection import Connection, connect, reset_connection
from tests.integration.salon_builder import BERLIN_SALON_ID, berlin_salon

pytestmark = pytest.mark.integration


def show(conn: Connection, *names: str) -> dict[str, str]:
    shown = {}
    for name in names:
        row = conn.execute(f"SHOW {name}").fetchone()
        assert row is not None
        shown[name] = row[name]
    conn.rollback()
    return shown


def test_a_connection_sets_its_timeouts_after_connecting_not_in_the_startup_packet(
    database_url: str,
) -> None:
    # When salonbot connects with its timeouts
    limits = Settings(db_statement_timeout_ms=1234, db_idle_in_transaction_timeout_ms=4321)
    with connect(database_url, limits) as conn:
        # Then no startup option was sent, and the session has them, past a rollback
        assert conn.info.options == ""
        conn.execute("SELECT 1")
        conn.rollback()
        assert show(
            conn, "statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout"
        ) == {
            "statement_timeout": "1234ms",
            "idle_in_transaction_session_timeout": "4321ms",
            "lock_timeout": "0",
        }


def test_an_abandoned_transaction_is_ended_by_the_server_and_its_locks_freed(
    db: Connection, database_url: str
) -> None:
    # Given a client locks a salon row and goes quiet in its transaction (a container
    # frozen mid-turn)
    berlin_salon(db)
    db.commit()
    quiet = connect(database_url, Settings(db_idle_in_transaction_timeout_ms=300))
    try:
        quiet.execute("SELECT id FROM salons WHERE id = %s FOR UPDATE", (BERLIN_SALON_ID,))
        pid = quiet.info.backend_pid

        # Then the server ends that session within moments
        for _ in range(100):
            gone = db.execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone() == {"n": 0}
            db.rollback()
            if gone:
                break
            time.sleep(0.1)
        assert gone
        # and the row is free for others at once
        locked = db.execute(
            "SELECT id FROM salons WHERE id = %s FOR UPDATE NOWAIT", (BERLIN_SALON_ID,)
        ).fetchall()
        assert len(locked) == 1
    finally:
        quiet.close()


@pytest.fixture
def admin_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    reset_connection()
    yield
    get_settings.cache_clear()


def test_the_admin_connection_has_no_statement_timeout_and_a_bounded_lock_wait(
    admin_env: None,
) -> None:
    with admin._admin_connection() as conn:
        assert show(
            conn, "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"
        ) == {
            "statement_timeout": "0",
            "lock_timeout": "2min",
            "idle_in_transaction_session_timeout": "2min",
        }
