"""The `salonbot` command line: admin commands (on a database, or through a deployed
stack's AdminFunction with `--function`) and the local stack's commands.

Each area registers its subcommands from its own module, so the entry point stays a
table of contents. Output that is data has a `--json` form."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING

from salonbot.errors import InvalidInput, NotFound, SalonbotError

if TYPE_CHECKING:
    from collections.abc import Sequence

# Modules that each define `register(subparsers)`.
COMMAND_MODULES = (
    "salonbot_dev.cli.database",
    "salonbot_dev.cli.salons",
    "salonbot_dev.cli.bookings",
    "salonbot_dev.cli.costs",
    "salonbot_dev.cli.ai",
    "salonbot_dev.cli.doctor",
    "salonbot_dev.cli.messages",
    "salonbot_dev.cli.privacy",
    "salonbot_dev.cli.local",
    "salonbot_dev.cli.openapi",
    "salonbot_dev.cli.tokens",
    "salonbot_dev.cli.templates",
    "salonbot_dev.cli.staff",
    "salonbot_dev.cli.eval",
    "salonbot_dev.cli.review",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salonbot", description=__doc__)
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (default: $DATABASE_URL or the local stack's)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except SalonbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
