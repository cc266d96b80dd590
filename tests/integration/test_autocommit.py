"""`autocommit`: single statements commit on their own, a transaction block stays one
transaction, a transaction left open before is rolled back, and the connection's mode
comes back afterwards."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from salonbot.db.connection import Connection, autocommit, connect

pytestmark = pytest.mark.integration

INSERT = "INSERT INTO salons (id, name, timezone) VALUES (%s, %s, 'Europe/Moscow')"


def _salon_names(database_url: str) -> list[str]:
    with connect(database_url) as other:
        rows = other.execute("SELECT name FROM salons ORDER BY name").fetchall()
    return [row["name"] for row in rows]


def test_a_single_statement_commits_on_its_own(db: Connection, database_url: str) -> None:
    with autocommit(db) as conn:
        conn.execute(INSERT, (uuid.uuid4(), "one"))
        assert _salon_names(database_url) == ["one"]
    assert db.autocommit is False


def test_a_failed_transaction_block_changes_nothing(db: Connection, database_url: str) -> None:
    with (
        autocommit(db) as conn,
        pytest.raises(psycopg.errors.NotNullViolation),
        conn.transaction(),
    ):
        conn.execute(INSERT, (uuid.uuid4(), "rolled back with the next"))
        conn.execute(INSERT, (uuid.uuid4(), None))
    assert _salon_names(database_url) == []


def test_a_transaction_left_open_is_rolled_back_first(db: Connection, database_url: str) -> None:
    db.execute(INSERT, (uuid.uuid4(), "left open"))
    with autocommit(db) as conn:
        conn.execute(INSERT, (uuid.uuid4(), "after"))
    assert _salon_names(database_url) == ["after"]
    assert db.autocommit is False
