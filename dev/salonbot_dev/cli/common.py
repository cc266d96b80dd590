"""Helpers shared by CLI commands: the database connection and output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from salonbot.db.connection import Connection

# Where `make dev` keeps its state (embedded PostgreSQL data, the stack's address book).
LOCAL_STATE_DIR = Path(os.environ.get("SALONBOT_LOCAL_DIR", ".local"))
LOCAL_DATABASE_URL_FILE = LOCAL_STATE_DIR / "database_url"


def database_url(args: argparse.Namespace) -> str:
    from salonbot.errors import ConfigurationError

    url = getattr(args, "database_url", None) or os.environ.get("DATABASE_URL")
    if not url and LOCAL_DATABASE_URL_FILE.exists():
        url = LOCAL_DATABASE_URL_FILE.read_text().strip()
    if not url:
        raise ConfigurationError(
            "DATABASE_URL is not configured (set it, pass --database-url, or run `make dev`)"
        )
    return url


def open_connection(args: argparse.Namespace) -> Connection:
    from salonbot.db.connection import connect

    return connect(database_url(args))


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))
