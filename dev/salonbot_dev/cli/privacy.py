"""`salonbot forget --salon ID --phone P`: erase one customer of a salon (docs/privacy.md).

On a database (`--database-url`, `$DATABASE_URL` or the local stack's), the DynamoDB
tables are those the environment names (`RATE_LIMIT_TABLE`, `IDEMPOTENCY_TABLE`,
`COST_TABLE`, with `AWS_ENDPOINT_URL` or AWS's own), else the running local stack's; a
table it has none for is reported as not reached. With `--function` the deployed stack's
AdminFunction does all of it from inside the VPC, with the stack's tables."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from salonbot.errors import ConfigurationError, InvalidInput
from salonbot_dev.cli.common import LOCAL_STATE_DIR, add_json_flag, open_connection, print_json
from salonbot_dev.cli.remote import FUNCTION_HELP

if TYPE_CHECKING:
    import argparse

    from salonbot.privacy.customer_items import CustomerItems

# The template's tables by the setting that names them: the local stack calls each one
# `<stack>-<logical id>`.
LOCAL_TABLES = {
    "rate_limit_table": "RateLimitTable",
    "idempotency_table": "IdempotencyTable",
    "cost_table": "CostTable",
}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "forget",
        help="erase a customer of a salon (GDPR, 152-FZ): conversation, messages, ledger, "
        "client record, DynamoDB items; bookings stay, anonymised",
    )
    parser.add_argument("--salon", required=True, help="salon id")
    parser.add_argument(
        "--phone", required=True, help="the customer's number (E.164, or a WhatsApp user id)"
    )
    parser.add_argument("--function", metavar="NAME", help=FUNCTION_HELP)
    add_json_flag(parser)
    parser.set_defaults(handler=run_forget)


def run_forget(args: argparse.Namespace) -> int:
    from salonbot.booking.store import normalize_phone

    phone = normalize_phone(args.phone)  # refused here, before anything is sent or written
    try:
        salon_id = uuid.UUID(args.salon)
    except ValueError:
        raise InvalidInput("must be a salon id (UUID)", field="--salon") from None
    if args.function:
        from salonbot_dev.cli.remote import invoke_admin

        payload = {"action": "forget_customer", "salon_id": str(salon_id), "phone": phone}
        report = invoke_admin(args.function, payload)
        report.pop("ok", None)
    else:
        from salonbot.privacy.erasure import forget_customer

        items = customer_items()
        with open_connection(args) as conn:
            report = forget_customer(conn, salon_id, phone, items=items).as_dict()
    if args.json:
        print_json(report)
    else:
        print_report(report)
    return 0


def customer_items() -> CustomerItems:
    """The environment's tables, else the running local stack's, else none."""
    from salonbot.config import Settings
    from salonbot.privacy.customer_items import CustomerItems

    settings = Settings.from_env()
    if any(getattr(settings, setting) for setting in LOCAL_TABLES):
        return CustomerItems.from_settings(settings)
    from salonbot_dev.local.state import StackAddresses

    try:
        stack = StackAddresses.read(LOCAL_STATE_DIR)
    except ConfigurationError:
        return CustomerItems({})
    import boto3

    client = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint_url, region_name=stack.region)
    names: list[str] = client.list_tables()["TableNames"]
    tables = {
        setting: next((n for n in names if n.endswith(f"-{logical_id}")), None)
        for setting, logical_id in LOCAL_TABLES.items()
    }
    return CustomerItems(tables, client=client)


def print_report(report: dict[str, Any]) -> None:
    print(f"forgot {report['phone']} of salon {report['salon_id']}")
    rows = [("postgresql", k, v) for k, v in report["postgresql"].items()]
    rows += [("dynamodb", k, v) for k, v in report["dynamodb"].items()]
    width = max(len(name) for _, name, _ in rows)
    for store, name, count in rows:
        print(f"  {store:<10}  {name:<{width}}  {count}")
    for kind in report["not_configured"]:
        print(f"  dynamodb    {kind}: not reached (no table configured here)")
