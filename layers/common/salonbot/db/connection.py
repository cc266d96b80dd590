"""One PostgreSQL connection per container, checked before reuse, bounded by timeouts
that need nothing in the startup packet.

A Lambda container frozen for minutes may hold a socket the server or RDS Proxy has
already closed; `get_connection()` probes a connection that sat idle and reconnects
once instead of failing the message.

Timeouts. Every connection runs with a statement timeout and an idle-in-transaction
timeout (and a lock timeout where one is asked for, as the admin function does): a
statement stuck behind a lock fails instead of holding the function, and a transaction
its client abandoned (a container frozen or killed mid-turn) is ended by the server, its
locks freed. None of them travels as a startup option (`options=-c ...`): RDS Proxy
refuses those, and PgBouncer refuses them unless told to ignore them. Where they go
depends on what the connection reaches:

- PostgreSQL itself: one `SET` for the session, right after connecting.
- A transaction pooler (RDS Proxy: `DB_PROXY_ENDPOINT` is set; PgBouncer in transaction
  mode: `DB_POOLED=true`): each transaction may run on another server session, and a
  session `SET` is exactly what RDS Proxy pins a client to one server connection for
  ("Avoiding pinning an RDS Proxy" in the RDS user guide; a pooler without pinning would
  leak the setting to other clients instead). So every transaction starts with
  `SET LOCAL` of the same values, which end with it and leave nothing on the session;
  a single statement outside any transaction (autocommit) is wrapped in one for that.
  That costs one round trip per transaction (two more for a lone statement), against
  none at all for a direct connection, and keeps the proxy multiplexing.

Pooled or not, nothing else is left on a session either: `prepare_threshold=None` (no
named prepared statements, which pin RDS Proxy and which PgBouncer before 1.21 cannot
follow between server connections) and only transaction-level advisory locks."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from salonbot.config import Settings, get_settings
from salonbot.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Self

Connection = psycopg.Connection[dict[str, Any]]

# Probe a connection that has been idle longer than this before handing it out.
IDLE_PROBE_AFTER_S = 30.0

_lock = threading.Lock()
_cached: Connection | None = None
_last_used = 0.0


@dataclass(frozen=True)
class Timeouts:
    """What bounds a connection's work, in milliseconds (0: no limit)."""

    statement_ms: int
    idle_in_transaction_ms: int
    lock_ms: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            statement_ms=settings.db_statement_timeout_ms,
            idle_in_transaction_ms=settings.db_idle_in_transaction_timeout_ms,
        )

    def statements(self, *, local: bool) -> str:
        """The `SET` (session) or `SET LOCAL` (this transaction) statements, as one query."""
        verb = "SET LOCAL" if local else "SET"
        values = (
            ("statement_timeout", self.statement_ms),
            ("lock_timeout", self.lock_ms),
            ("idle_in_transaction_session_timeout", self.idle_in_transaction_ms),
        )
        return "; ".join(f"{verb} {name} = {int(ms)}" for name, ms in values)


def pooled(settings: Settings) -> bool:
    """Whether connections go through a transaction pooler (RDS Proxy, PgBouncer)."""
    if settings.db_pooled is not None:
        return settings.db_pooled
    return bool(settings.db_proxy_endpoint)


class _PerTransactionCursor(psycopg.Cursor[dict[str, Any]]):
    """Starts each transaction it opens with the connection's `SET LOCAL` statements."""

    def _begin(self) -> bool:
        """Set the timeouts if this statement opens a transaction; True when the caller
        must run its statement in a transaction opened here (autocommit)."""
        conn = self.connection
        statements = getattr(conn, "per_transaction", None)
        if statements is None or conn.info.transaction_status != TransactionStatus.IDLE:
            return False
        if conn.autocommit:
            return True
        # psycopg opens the transaction (BEGIN) before this statement.
        super().execute(statements)
        return False

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Self:
        if self._begin():
            with self.connection.transaction():
                return super().execute(query, params, **kwargs)
        return super().execute(query, params, **kwargs)

    def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
        if self._begin():
            with self.connection.transaction():
                super().executemany(query, params_seq, **kwargs)
                return
        super().executemany(query, params_seq, **kwargs)


class _PerTransactionConnection(psycopg.Connection[dict[str, Any]]):
    """A connection whose transactions each set the timeouts (`per_transaction`)."""

    per_transaction: str | None = None

    @contextmanager
    def transaction(
        self, savepoint_name: str | None = None, force_rollback: bool = False
    ) -> Iterator[psycopg.Transaction]:
        outermost = self.info.transaction_status == TransactionStatus.IDLE
        with super().transaction(savepoint_name, force_rollback) as tx:
            if outermost and self.per_transaction is not None:
                self.execute(self.per_transaction)
            yield tx


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


def connect(
    dsn: str, settings: Settings | None = None, *, timeouts: Timeouts | None = None
) -> Connection:
    """A new connection with `timeouts` (else the settings'), set for the session or per
    transaction as `pooled(settings)` says."""
    settings = settings or get_settings()
    timeouts = timeouts or Timeouts.from_settings(settings)
    conn = _PerTransactionConnection.connect(
        dsn,
        row_factory=dict_row,
        cursor_factory=_PerTransactionCursor,
        prepare_threshold=None,
        connect_timeout=settings.db_connect_timeout_s,
        application_name="salonbot",
    )
    if pooled(settings):
        conn.per_transaction = timeouts.statements(local=True)
        return conn
    try:
        conn.autocommit = True  # one round trip, and nothing to commit
        conn.execute(timeouts.statements(local=False))
        conn.autocommit = False
    except BaseException:
        conn.close()
        raise
    return conn


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
