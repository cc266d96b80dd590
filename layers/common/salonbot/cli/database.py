"""`salonbot migrate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot.cli.common import open_connection

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "migrate", help="apply pending database migrations (safe to run concurrently)"
    )
    parser.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    from salonbot.db.migrate import migrate

    with open_connection(args) as conn:
        applied = migrate(conn)
    if applied:
        for migration in applied:
            print(f"applied {migration.version:04d}_{migration.name}")
    else:
        print("database is up to date")
    return 0
