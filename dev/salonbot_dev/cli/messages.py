"""`salonbot messages kept`: customer messages no engine answered, kept for the staff
(too old to answer, or for a WhatsApp number no salon has)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput
from salonbot_dev.cli.common import add_json_flag, open_connection, print_json, print_table

if TYPE_CHECKING:
    import argparse

# Characters of a message shown in the table; --json has all of it.
TABLE_TEXT_CHARS = 60


def register(subparsers: Any) -> None:
    from salonbot.processing.kept import REASONS

    messages = subparsers.add_parser("messages", help="customer messages kept for the staff")
    actions = messages.add_subparsers(dest="messages_command", required=True, metavar="ACTION")
    listing: argparse.ArgumentParser = actions.add_parser(
        "kept",
        help="messages no engine answered: too old to answer, or for an unknown number",
    )
    listing.add_argument("--salon", help="salon id (default: every salon and unknown numbers)")
    listing.add_argument("--reason", choices=REASONS)
    listing.add_argument("--limit", type=int, default=50, help="latest N (default 50)")
    add_json_flag(listing)
    listing.set_defaults(handler=run_kept)


def run_kept(args: argparse.Namespace) -> int:
    from salonbot.processing.kept import kept_messages

    salon = None
    if args.salon:
        try:
            salon = uuid.UUID(args.salon)
        except ValueError:
            raise InvalidInput("not a salon id", field="--salon") from None
    if args.limit < 1:
        raise InvalidInput("must be at least 1", field="--limit")
    with open_connection(args) as conn:
        found = kept_messages(conn, salon_id=salon, reason=args.reason, limit=args.limit)
    if args.json:
        print_json([m.as_dict() for m in found])
        return 0
    rows = [
        {
            "received": m.received_at.isoformat(timespec="seconds"),
            "reason": m.reason,
            "number": m.phone_number_id,
            "salon": str(m.salon_id) if m.salon_id else "-",
            "customer": m.phone_number,
            "text": _short(m.content),
        }
        for m in found
    ]
    print_table(rows, ["received", "reason", "number", "salon", "customer", "text"])
    return 0


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TABLE_TEXT_CHARS else line[: TABLE_TEXT_CHARS - 1] + "…"
