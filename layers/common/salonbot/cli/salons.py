"""`salonbot salon import FILE` and `salonbot salon list`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot.cli.common import add_json_flag, open_connection, print_json, print_table

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    salon = subparsers.add_parser("salon", help="manage salons")
    actions = salon.add_subparsers(dest="salon_command", required=True, metavar="ACTION")
    importer: argparse.ArgumentParser = actions.add_parser(
        "import", help="create or update a salon from a YAML or JSON file"
    )
    importer.add_argument("file")
    add_json_flag(importer)
    importer.set_defaults(handler=run_import)
    listing = actions.add_parser("list", help="list salons")
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)


def run_import(args: argparse.Namespace) -> int:
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import load_salon_file

    salon = load_salon_file(args.file)
    with open_connection(args) as conn:
        result = import_salon(conn, salon)
    if args.json:
        print_json(result.__dict__)
    else:
        verb = "created" if result.created else "updated"
        print(
            f"{verb} salon {result.salon_id} (revision {result.revision}): "
            f"{result.services} services, {result.masters} masters"
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
