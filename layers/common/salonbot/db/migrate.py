"""Versioned SQL migrations.

Files `migrations/NNNN_name.sql` run in order, each in its own transaction, recorded in
`schema_migrations`. Each of those transactions first takes one transaction-level
advisory lock and then looks whether its migration already ran: concurrent deploys queue
on the lock, and the later one finds nothing left to apply. Nothing outlives a
transaction, so migrations run through RDS Proxy or PgBouncer in transaction mode without
pinning a session or losing the lock between transactions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from salonbot.db.connection import Connection

# Arbitrary constant: "salonbot" as a 63-bit integer key for pg_advisory_xact_lock.
MIGRATION_LOCK_KEY = 0x73616C6F6E626F74


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files("salonbot.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


def migrate(conn: Connection) -> list[Migration]:
    """Apply pending migrations; return the ones applied by this call."""
    conn.autocommit = True
    applied: list[Migration] = []
    try:
        with conn.transaction():
            _take_turn(conn)
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
        for migration in available_migrations():
            with conn.transaction():
                _take_turn(conn)
                done = conn.execute(
                    "SELECT checksum FROM schema_migrations WHERE version = %s",
                    (migration.version,),
                ).fetchone()
                if done is not None:
                    if done["checksum"] != migration.checksum:
                        raise RuntimeError(
                            f"migration {migration.version}_{migration.name} was edited "
                            "after it ran"
                        )
                    continue
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            applied.append(migration)
    finally:
        conn.autocommit = False
    return applied


def _take_turn(conn: Connection) -> None:
    """Wait for any other deploy's migration transaction; held until this one ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
