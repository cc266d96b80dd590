"""Which failures are the database's and worth a retry of the whole message, as opposed
to an engine's, which a retry would only meet again.

A broken or closed connection, and PostgreSQL's operational errors (the server gone, a
statement timeout behind another transaction's lock, a deadlock, a serialization
failure) are transient: the turn rolls back and SQS delivers the message again. Anything
else an engine raises (a bug, a response shape it does not expect, bad data) fails the
same way on every delivery."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from salonbot.db.connection import Connection


def is_transient(conn: Connection, exc: BaseException) -> bool:
    """True when `exc`, raised while working on `conn`, should fail the message for a
    retry rather than be answered by a fallback."""
    import psycopg  # lazily: the router's importers need not load the driver for this

    return bool(conn.broken or conn.closed) or isinstance(exc, psycopg.OperationalError)
