"""`salonbot migrate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot_dev.cli.common import open_connection
from salonbot_dev.cli.remote import FUNCTION_HELP

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "migrate", help="apply pending database migrations (safe to run concurrently)"
    )
    parser.add_argument("--function", metavar="NAME", help=FUNCTION_HELP)
    parser.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    if args.function:
        from salonbot_dev.cli.remote import invoke_admin

        names = list(invoke_admin(args.function, {"action": "migrate"})["applied"])
    else:
        from salonbot.db.migrate import migrate

        with open_connection(args) as conn:
            names = [f"{m.version:04d}_{m.name}" for m in migrate(conn)]
    for name in names:
        print(f"applied {name}")
    if not names:
        print("database is up to date")
    return 0
