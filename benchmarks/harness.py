"""What every benchmark shares: the result row, a fresh database, timing and SQL
round-trip counting.

Each `benchmarks/bench_<area>.py` defines `run() -> list[Row]`; `python -m benchmarks`
collects the rows into one table and `benchmarks/report.md`."""

from __future__ import annotations

import atexit
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo


@dataclass
class Row:
    area: str
    metric: str
    value: str
    target: str = ""
    note: str = ""


# Facts about the run that the report prints under the machine specs.
run_facts: dict[str, str] = {}

_embedded_admin_url: str | None = None
_created_databases: list[tuple[str, str]] = []


def _admin_url() -> str:
    """$DATABASE_URL, else one embedded PostgreSQL started for this process."""
    global _embedded_admin_url
    url = os.environ.get("DATABASE_URL")
    if url:
        run_facts.setdefault("database", "DATABASE_URL")
        return url
    if _embedded_admin_url is None:
        from salonbot_dev.local.database import embedded_postgres_server

        postgres_server = embedded_postgres_server()
        pgdata = Path(tempfile.mkdtemp(prefix="salonbot-bench-pg-")) / "data"
        server = postgres_server.get_server(pgdata, cleanup_mode="delete")
        _embedded_admin_url = str(server.get_uri("postgres"))
        run_facts.setdefault("database", "embedded PostgreSQL (embedded-postgres)")
    return _embedded_admin_url


def _drop_created_databases() -> None:
    for admin_url, name in _created_databases:
        try:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error:
            pass  # the embedded server may already be gone; its data dir is deleted anyway


def fresh_database_url() -> str:
    """A new, migrated database (on $DATABASE_URL's server or an embedded one),
    dropped when the process exits."""
    from salonbot.db.connection import connect
    from salonbot.db.migrate import migrate

    admin_url = _admin_url()
    name = f"salonbot_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        version = admin.execute("SHOW server_version").fetchone()
        if version:
            run_facts["postgresql"] = str(version[0])
    if not _created_databases:
        atexit.register(_drop_created_databases)
    _created_databases.append((admin_url, name))
    url = make_conninfo(admin_url, dbname=name)
    with connect(url) as conn:
        migrate(conn)
    return url


@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(fn: Callable[[], Any], *, repeat: int = 200, warmup: int = 10) -> Timing:
    """Wall-clock time of `fn()` over `repeat` calls after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(samples)


class RoundTrips:
    """Number of client-to-server round trips seen by libpq's protocol trace."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []


@contextmanager
def count_round_trips(conn: psycopg.Connection[Any]) -> Iterator[RoundTrips]:
    """Count round trips on `conn` while the block runs, from libpq's own protocol trace:
    every simple `Query` message and every `Sync` closing an extended-protocol exchange
    is one wait for the server. Independent of how the code under test issues SQL."""
    from psycopg.pq import Trace

    result = RoundTrips()
    with tempfile.TemporaryFile(mode="w+b") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield result
        finally:
            conn.pgconn.untrace()
            trace.seek(0)
            for line in trace.read().decode("utf-8", "replace").splitlines():
                # Regress-mode lines: direction, length, message type, contents.
                parts = line.split("\t")
                if len(parts) < 3 or parts[0] != "F":
                    continue
                kind, contents = parts[2], (parts[3].strip() if len(parts) > 3 else "")
                if kind == "Query":
                    result.count += 1
                    result.statements.append(contents)
                elif kind == "Parse":
                    result.statements.append(contents)
                elif kind == "Sync":
                    result.count += 1
