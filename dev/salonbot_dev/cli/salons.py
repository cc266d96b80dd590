"""`salonbot salon import FILE` and `salonbot salon list`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot_dev.cli.common import add_json_flag, open_connection, print_json, print_table
from salonbot_dev.cli.remote import FUNCTION_HELP

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    salon = subparsers.add_parser("salon", help="manage salons")
    actions = salon.add_subparsers(dest="salon_command", required=True, metavar="ACTION")
    importer: argparse.ArgumentParser = actions.add_parser(
        "import", help="create or update a salon from a YAML or JSON file"
    )
    importer.add_argument("file")
    importer.add_argument("--function", metavar="NAME", help=FUNCTION_HELP)
    add_json_flag(importer)
    importer.set_defaults(handler=run_import)
    listing = actions.add_parser("list", help="list salons")
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)


def run_import(args: argparse.Namespace) -> int:
    from salonbot.booking.salon_file import read_salon_data, validate_salon

    data = read_salon_data(args.file)
    salon = validate_salon(data)  # refused here, before anything is sent or written
    if args.function:
        from salonbot_dev.cli.remote import invoke_admin

        answer = invoke_admin(args.function, {"action": "import_salon", "salon": data})
        result = {key: answer[key] for key in ("salon_id", "created", "revision")}
        result |= {key: answer[key] for key in ("services", "masters")}
    else:
        from salonbot.booking.importer import import_salon

        with open_connection(args) as conn:
            imported = import_salon(conn, salon)
        result = {**imported.__dict__, "salon_id": str(imported.salon_id)}
    if args.json:
        print_json(result)
    else:
        verb = "created" if result["created"] else "updated"
        print(
            f"{verb} salon {result['salon_id']} (revision {result['revision']}): "
            f"{result['services']} services, {result['masters']} masters"
        )
    return 0


def run_list(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import list_salons

    with open_connection(args) as conn:
        rows = list_salons(conn)
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["id", "name", "timezone", "whatsapp_phone_number_id", "ai_enabled"])
    return 0
