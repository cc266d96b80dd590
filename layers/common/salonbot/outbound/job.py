"""The scheduled outbound job: one reminder run on the per-container connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot.db.connection import autocommit, get_connection
from salonbot.outbound.reminders import ReminderRun

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.config import Settings
    from salonbot.whatsapp.client import WhatsAppClient


def run_outbound(
    settings: Settings,
    *,
    deadline: Callable[[], bool] | None = None,
    whatsapp: WhatsAppClient | None = None,
) -> dict[str, Any]:
    if whatsapp is None:
        from salonbot.whatsapp.client import WhatsAppClient

        whatsapp = WhatsAppClient(settings)
    conn = get_connection()
    with autocommit(conn):
        result = ReminderRun(whatsapp, deadline=deadline).run(conn)
    return {"reminders": result.as_dict()}
