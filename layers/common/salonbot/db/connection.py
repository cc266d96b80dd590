"""One PostgreSQL connection per container, checked before reuse.

A Lambda container frozen for minutes may hold a socket the server or RDS Proxy has
already closed; `get_connection()` probes a connection that sat idle and reconnects
once instead of failing the message. `prepare_threshold=None` keeps RDS Proxy from
pinning the connection to one backend."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from salonbot.config import Settings, get_settings
from salonbot.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterator

Connection = psycopg.Connection[dict[str, Any]]

# Probe a connection that has been idle longer than this before handing it out.
IDLE_PROBE_AFTER_S = 30.0

_lock = threading.Lock()
_cached: Connection | None = None
_last_used = 0.0


def resolve_dsn(settings: Settings) -> str:
    """DATABASE_URL wins; in AWS the DSN is built from the RDS secret (cached)."""
    if settings.database_url:
        return settings.database_url
    if settings.db_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        raw = parameters.get_secret(settings.db_secret_arn, max_age=300)
        secret = json.loads(raw if isinstance(raw, str) else raw.decode())
        # An RDS-managed master secret holds only the credentials: the host comes from
        # the stack (DatabaseProxyEndpoint, else DatabaseHost).
        host = settings.db_proxy_endpoint or settings.db_host or secret.get("host")
        if not host:
            raise ConfigurationError(
                "the database secret has no host: set DB_HOST (stack parameter DatabaseHost)"
            )
        return psycopg.conninfo.make_conninfo(
            host=host,
            port=str(secret.get("port", 5432)),
            dbname=secret.get("dbname", settings.db_name),
            user=secret["username"],
            password=secret["password"],
            sslmode="require",
        )
    raise ConfigurationError("DATABASE_URL is not configured")


def connect(dsn: str, settings: Settings | None = None) -> Connection:
    settings = settings or get_settings()
    return psycopg.connect(
        dsn,
        row_factory=dict_row,
        prepare_threshold=None,
        connect_timeout=settings.db_connect_timeout_s,
        options=f"-c statement_timeout={settings.db_statement_timeout_ms}",
        application_name="salonbot",
    )


def _healthy(conn: Connection) -> bool:
    if conn.closed or conn.broken:
        return False
    try:
        conn.execute("SELECT 1")
        conn.rollback()
    except psycopg.Error:
        return False
    return True


def get_connection(settings: Settings | None = None) -> Connection:
    """The container's connection, reconnecting when it was closed or went stale."""
    global _cached, _last_used
    settings = settings or get_settings()
    with _lock:
        now = time.monotonic()
        conn = _cached
        if conn is not None and (
            conn.closed
            or conn.broken
            or (now - _last_used > IDLE_PROBE_AFTER_S and not _healthy(conn))
        ):
            conn.close()
            conn = None
        if conn is None:
            conn = connect(resolve_dsn(settings), settings)
            _cached = conn
        _last_used = now
        return conn


def reset_connection() -> None:
    """Drop the cached connection (after a fatal error, or in tests)."""
    global _cached
    with _lock:
        if _cached is not None:
            _cached.close()
        _cached = None


@contextmanager
def autocommit(conn: Connection) -> Iterator[Connection]:
    """Single statements commit on their own, `conn.transaction()` blocks are real
    transactions: the fewest round trips for the processor's pattern, and for the API's
    reads. A transaction left open on the connection is rolled back first."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        conn.rollback()
    previous = conn.autocommit
    conn.autocommit = True
    try:
        yield conn
    finally:
        if not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE:
            conn.autocommit = previous
