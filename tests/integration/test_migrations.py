"""Migrations: idempotent, one transaction each, safe when two deploys race."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from salonbot.db.connection import Connection, connect
from salonbot.db.migrate import available_migrations, migrate


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    name = f"salonbot_migrate_{uuid.uuid4().hex[:8]}"
    with connect(database_url) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(database_url)
    params["dbname"] = name
    yield make_conninfo(**params)
    with connect(database_url) as admin:
        admin.autocommit = True
        # Dropping waits for the server to end the test's sessions: no statement timeout.
        admin.execute("SET statement_timeout = 0")
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrate_twice_applies_once(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        first = migrate(conn)
        second = migrate(conn)
        versions = [r["version"] for r in conn.execute("SELECT version FROM schema_migrations")]

    assert [m.version for m in first] == [m.version for m in available_migrations()]
    assert second == []
    assert versions == [m.version for m in available_migrations()]


def test_concurrent_deploys_apply_each_migration_once(empty_database_url: str) -> None:
    applied: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def deploy() -> None:
        try:
            with connect(empty_database_url) as conn:
                barrier.wait()
                applied.extend(m.version for m in migrate(conn))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(applied) == [m.version for m in available_migrations()]


def test_schema_has_the_product_tables_and_indexes(db: Connection) -> None:
    rows = db.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ai_messages'"
    ).fetchall()
    definitions = " ".join(r["indexdef"] for r in rows)

    assert "(conversation_id, created_at)" in definitions
    assert "(salon_id, created_at)" in definitions
