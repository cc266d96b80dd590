"""`salonbot review`: a salon's conversations worth a look, with a short transcript."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot.review import DEFAULT_LAST_MESSAGES, DEFAULT_WIDTH
from salonbot.stats import window_bound
from salonbot_dev.cli.common import add_json_flag, open_connection, print_json

if TYPE_CHECKING:
    import argparse

    from salonbot.review import ReviewItem

ROLES = {"user": "customer", "assistant": "bot", "staff": "staff"}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "review",
        help="conversations worth a look: booking intent without a booking, hand-offs, "
        "model failures, replaced replies, low ratings",
    )
    parser.add_argument("--salon", required=True, help="salon id")
    parser.add_argument(
        "--from",
        dest="since",
        required=True,
        help="YYYY-MM-DD (salon's local day) or ISO time (salon-local without an offset)",
    )
    parser.add_argument(
        "--to", dest="until", required=True, help="YYYY-MM-DD (inclusive) or ISO time"
    )
    parser.add_argument(
        "--last",
        type=int,
        default=DEFAULT_LAST_MESSAGES,
        help=f"messages of each transcript (default {DEFAULT_LAST_MESSAGES})",
    )
    parser.add_argument(
        "--width",
        type=int,
        default=DEFAULT_WIDTH,
        help=f"characters kept of each message (default {DEFAULT_WIDTH})",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=run_review)


def run_review(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import load_salon
    from salonbot.review import review

    with open_connection(args) as conn:
        tz = load_salon(conn, args.salon).tz
        since = window_bound(args.since, tz, end=False, field="--from", naive_is_local=True)
        until = window_bound(args.until, tz, end=True, field="--to", naive_is_local=True)
        items = review(conn, args.salon, since, until, last_messages=args.last, width=args.width)
    if args.json:
        print_json([item.as_dict() for item in items])
        return 0
    if not items:
        print(f"nothing to review from {since.isoformat()} to {until.isoformat()}")
        return 0
    for index, item in enumerate(items):
        if index:
            print()
        _print_item(item, tz)
    return 0


def _print_item(item: ReviewItem, tz: Any) -> None:
    arm = f"  arm {item.experiment_arm}" if item.experiment_arm else ""
    print(f"{item.last_message_at.astimezone(tz):%Y-%m-%d %H:%M}  {item.phone}{arm}")
    print(f"  {', '.join(item.reasons)}")
    for detail in item.details:
        print(f"  {detail}")
    for line in item.transcript:
        print(f"    {line.at.astimezone(tz):%H:%M} {ROLES.get(line.role, line.role)}: {line.text}")
