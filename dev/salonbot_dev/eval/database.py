"""The evaluation's own PostgreSQL database: one per run, migrated once and emptied before
every trial (truncation is milliseconds; a new cluster per task would be seconds).

It lives on the server given (`--database-url`), as a scratch database created for the
run and dropped after it, so the data already on that server is never touched; with no
server given, on an embedded PostgreSQL started for the run."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salonbot.db.connection import Connection

# Never emptied: the record of applied migrations.
KEPT_TABLES = frozenset({"schema_migrations"})


def _deletion_order(conn: Connection) -> list[str]:
    """The schema's tables, each after every table whose rows refer to it."""
    tables = {
        r["name"]
        for r in conn.execute(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    } - KEPT_TABLES
    refers: dict[str, set[str]] = {table: set() for table in tables}
    for r in conn.execute(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent "
        "FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
    ).fetchall():
        child, parent = r["child"].strip('"'), r["parent"].strip('"')
        if child in refers and parent != child:
            refers[parent].add(child)  # the parent's rows go after the child's
    order: list[str] = []
    done: set[str] = set()

    def visit(table: str) -> None:
        if table in done:
            return
        done.add(table)
        for child in sorted(refers[table]):
            visit(child)
        order.append(table)

    for table in sorted(tables):
        visit(table)
    # visit() puts children first: a table is listed after every table referring to it.
    return [f'"{table}"' for table in order]


class ScratchDatabase:
    def __init__(self, server_url: str | None = None) -> None:
        self._server_url = server_url
        self._embedded: Any = None
        self._admin_url = ""
        self._name = f"salonbot_eval_{uuid.uuid4().hex[:10]}"
        self._tables: list[str] = []
        self._sequences: list[str] = []
        self.url = ""
        self.conn: Connection | None = None

    def start(self) -> Connection:
        import psycopg
        from psycopg.conninfo import make_conninfo

        from salonbot.db.connection import connect
        from salonbot.db.migrate import migrate

        self._admin_url = self._server_url or self._start_embedded()
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self._name}"')
        self.url = make_conninfo(self._admin_url, dbname=self._name)
        self.conn = connect(self.url)
        migrate(self.conn)
        # A scratch database: a commit need not wait for the disk.
        self.conn.execute("SET synchronous_commit = off")
        self._tables = _deletion_order(self.conn)
        self._sequences = [
            r["name"]
            for r in self.conn.execute(
                "SELECT quote_ident(sequencename) AS name FROM pg_sequences "
                "WHERE schemaname = current_schema()"
            ).fetchall()
        ]
        self.conn.commit()
        return self.conn

    def _start_embedded(self) -> str:
        from salonbot_dev.local.database import embedded_postgres_server

        pgdata = Path(tempfile.mkdtemp(prefix="salonbot-eval-pg-")) / "data"
        self._embedded = embedded_postgres_server().get_server(pgdata, cleanup_mode="delete")
        return str(self._embedded.get_uri("postgres"))

    def empty(self) -> None:
        """Every table emptied, sequences restarted: the next trial starts from nothing.
        DELETE, not TRUNCATE: on tables of a few rows it is ten times faster (TRUNCATE
        makes new files for every table)."""
        assert self.conn is not None, "start() first"
        self.conn.rollback()
        with self.conn.transaction():
            for table in self._tables:
                self.conn.execute(f"DELETE FROM {table}")
            for sequence in self._sequences:
                self.conn.execute(f"ALTER SEQUENCE {sequence} RESTART")
        self.conn.commit()

    def close(self) -> None:
        import psycopg

        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._admin_url:
            try:
                with psycopg.connect(self._admin_url, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
            except psycopg.Error:
                pass  # an embedded server deletes its data folder anyway
        if self._embedded is not None:
            self._embedded.cleanup()
            self._embedded = None

    def __enter__(self) -> ScratchDatabase:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
