"""`salonbot templates push --salon ID` and `salonbot templates status [--salon ID]`: the
salon's WhatsApp message templates at Meta (Graph API, the salon file's
`whatsapp_business_account_id`; WHATSAPP_API_BASE_URL and WHATSAPP_ACCESS_TOKEN, or the
running local stack's fake). Only an approved template is ever sent."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from salonbot_dev.cli.common import add_json_flag, open_connection, print_json, print_table

if TYPE_CHECKING:
    import argparse

    from salonbot.config import Settings


def register(subparsers: Any) -> None:
    templates = subparsers.add_parser("templates", help="the salon's WhatsApp message templates")
    actions = templates.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    push: argparse.ArgumentParser = actions.add_parser(
        "push", help="submit the salon's templates not yet approved to Meta for approval"
    )
    push.add_argument("--salon", metavar="ID", required=True)
    add_json_flag(push)
    push.set_defaults(handler=run_push)
    status: argparse.ArgumentParser = actions.add_parser(
        "status", help="Meta's verdict on each template (read from the Graph API)"
    )
    status.add_argument("--salon", metavar="ID", help="one salon (default: every salon)")
    add_json_flag(status)
    status.set_defaults(handler=run_status)


def _settings() -> Settings:
    from salonbot.config import Settings

    settings = Settings.from_env()
    if not os.environ.get("WHATSAPP_API_BASE_URL"):
        from salonbot_dev.cli.common import LOCAL_STATE_DIR
        from salonbot_dev.local.state import STACK_FILE, StackAddresses

        if (LOCAL_STATE_DIR / STACK_FILE).exists():
            return settings.model_copy(
                update={
                    "whatsapp_api_base_url": StackAddresses.read(LOCAL_STATE_DIR).whatsapp_url,
                    "whatsapp_access_token": settings.whatsapp_access_token or "local",
                }
            )
    return settings


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "salon_id": str(t.salon_id),
            "purpose": t.purpose,
            "language": t.language,
            "name": t.name,
            "category": t.category,
            "status": t.status,
            "reason": t.status_reason,
        }
        for t in items
    ]


def run_push(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import load_salon
    from salonbot.outbound import templates
    from salonbot.outbound.graph import TemplateAdmin

    admin = TemplateAdmin(_settings())
    with open_connection(args) as conn:
        salon = load_salon(conn, args.salon)
        for template in templates.salon_templates(conn, salon.id):
            if template.approved:
                continue
            answer = admin.submit(salon, template)
            templates.record_status(
                conn,
                name=template.name,
                language=template.language,
                meta_status=str(answer.get("status", "PENDING")),
                meta_template_id=str(answer.get("id") or "") or None,
                salon_id=salon.id,
            )
        conn.commit()
        rows = _rows(templates.salon_templates(conn, salon.id))
    _show(args, rows)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import list_salons, load_salon
    from salonbot.outbound import templates
    from salonbot.outbound.graph import TemplateAdmin

    admin = TemplateAdmin(_settings())
    rows: list[dict[str, Any]] = []
    with open_connection(args) as conn:
        ids = [args.salon] if args.salon else [row["id"] for row in list_salons(conn)]
        for salon_id in ids:
            salon = load_salon(conn, salon_id)
            if not salon.whatsapp_business_account_id:
                continue
            for verdict in admin.verdicts(salon):
                templates.record_status(
                    conn,
                    name=str(verdict.get("name", "")),
                    language=str(verdict.get("language", "")),
                    meta_status=str(verdict.get("status", "")),
                    reason=verdict.get("rejected_reason"),
                    meta_template_id=str(verdict.get("id") or "") or None,
                    salon_id=salon.id,
                )
            rows.extend(_rows(templates.salon_templates(conn, salon.id)))
        conn.commit()
    _show(args, rows)
    return 0


def _show(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["purpose", "language", "name", "category", "status", "reason"])
