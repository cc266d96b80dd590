"""`salonbot ai off|on (--salon ID | --all)` and `salonbot ai status`: the kill switch.

Off, the salon's customers (or every salon's) are answered by the guided flow at zero
tokens instead of the model, within the processor's cache time; on, the model is back.
Unlike the salon file's `ai_enabled: false` nothing goes to the staff. On a database
(DATABASE_URL, `--database-url`, the local stack's) or through AdminFunction
(`--function`)."""

from __future__ import annotations

import getpass
import socket
import uuid
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput
from salonbot_dev.cli.common import add_json_flag, open_connection, print_json
from salonbot_dev.cli.remote import FUNCTION_HELP

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    ai = subparsers.add_parser(
        "ai", help="the AI kill switch: stop or resume model calls without a deploy"
    )
    actions = ai.add_subparsers(dest="ai_command", required=True, metavar="ACTION")
    for name, help_text in (
        ("off", "stop model calls: customers are answered by the guided flow"),
        ("on", "resume model calls"),
    ):
        action: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        scope = action.add_mutually_exclusive_group(required=True)
        scope.add_argument("--salon", metavar="ID", help="one salon")
        scope.add_argument("--all", action="store_true", help="every salon")
        action.add_argument("--function", metavar="NAME", help=FUNCTION_HELP)
        add_json_flag(action)
        action.set_defaults(handler=run_switch, switch=name)
    status: argparse.ArgumentParser = actions.add_parser("status", help="show the switch")
    status.add_argument("--function", metavar="NAME", help=FUNCTION_HELP)
    add_json_flag(status)
    status.set_defaults(handler=run_switch, switch=None)


def operator() -> str:
    """Who changed the switch, as recorded with it."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name (a container)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def run_switch(args: argparse.Namespace) -> int:
    salon_id = _salon_id(getattr(args, "salon", None))
    if args.function:
        from salonbot_dev.cli.remote import invoke_admin

        payload: dict[str, Any] = {"action": "ai_switch", "set": args.switch}
        if salon_id is not None:
            payload["salon_id"] = str(salon_id)
        payload["changed_by"] = operator()
        answer = invoke_admin(args.function, payload)
        changed, switches = answer.get("changed"), list(answer["switches"])
    else:
        from salonbot.assistant.switch import read_switches, set_switch
        from salonbot.booking.catalog import list_salons

        with open_connection(args) as conn:
            state = None
            if args.switch is not None:
                state = set_switch(
                    conn, off=args.switch == "off", salon_id=salon_id, changed_by=operator()
                )
            switches = [s.as_dict() for s in read_switches(conn)]
            names = {str(row["id"]): row["name"] for row in list_salons(conn)}
            conn.commit()
        changed = state.as_dict() if state else None
        for switch in switches:
            switch["salon_name"] = names.get(switch["scope"])
    if args.json:
        print_json({"changed": changed, "switches": switches})
        return 0
    for line in describe(changed, switches):
        print(line)
    return 0


def _salon_id(raw: str | None) -> uuid.UUID | None:
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput("not a salon id (UUID)", field="salon") from None


def describe(changed: dict[str, Any] | None, switches: list[dict[str, Any]]) -> list[str]:
    from salonbot.assistant.switch import ALL, CACHE_TTL_S

    lines = []
    if changed is not None:
        who = "every salon" if changed["scope"] == ALL else f"salon {changed['scope']}"
        if changed["off"]:
            lines.append(
                f"model calls OFF for {who}: customers get the guided flow at zero tokens "
                f"within {CACHE_TTL_S:g} s"
            )
        else:
            lines.append(f"model calls back ON for {who} within {CACHE_TTL_S:g} s")
    every = next((s for s in switches if s["scope"] == ALL), None)
    if every is not None and every["off"]:
        lines.append(
            f"every salon: OFF since {every['changed_at']} ({every['changed_by']}); "
            "resume with `salonbot ai on --all`"
        )
    else:
        lines.append("every salon: on")
    salons = [s for s in switches if s["scope"] != ALL and s["off"]]
    for s in salons:
        name = f" ({s['salon_name']})" if s.get("salon_name") else ""
        lines.append(
            f"salon {s['scope']}{name}: OFF since {s['changed_at']} ({s['changed_by']}); "
            f"resume with `salonbot ai on --salon {s['scope']}`"
        )
    if not salons:
        lines.append("no salon switched off on its own")
    elif changed is not None and changed["scope"] == ALL and not changed["off"]:
        lines.append("(salons switched off on their own stay off)")
    if every is not None and every["off"] and changed is not None and changed["scope"] != ALL:
        lines.append("(every salon is switched off: this salon's model calls stay off)")
    return lines
