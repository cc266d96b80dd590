"""PgBouncer in transaction-pooling mode in front of the test database, one per test
session, and connections through it made as salonbot makes them behind RDS Proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from salonbot.config import Settings
from salonbot.db.connection import Connection, connect
from tests.integration.pooler.pgbouncer import POOL_SIZE, PgBouncer

# The fake model and the fake send API, one of each per test, as the processor tests use.
from tests.integration.processor.conftest import fake_openai, fake_whatsapp  # noqa: F401


@pytest.fixture(scope="session")
def pgbouncer(database_url: str) -> Iterator[PgBouncer]:
    bouncer = PgBouncer.start(database_url)
    # Open the pool's server connections now, so that one client's transactions already
    # rotate over several of them (server_round_robin).
    clients = [connect(bouncer.url(), pooled_settings()) for _ in range(POOL_SIZE)]
    for client in clients:
        client.execute("SELECT pg_backend_pid()")  # each holds a server connection...
    for client in clients:
        client.commit()  # ...until all of them have one
        client.close()
    yield bouncer
    bouncer.stop()


def pooled_settings(**overrides: Any) -> Settings:
    """Settings as behind RDS Proxy: timeouts per transaction."""
    return Settings(**{"db_pooled": True, **overrides})


@pytest.fixture
def pooled(pgbouncer: PgBouncer, db: Connection) -> Iterator[Connection]:
    """A connection through PgBouncer to the test database (emptied by `db`)."""
    with connect(pgbouncer.url(), pooled_settings()) as conn:
        yield conn
