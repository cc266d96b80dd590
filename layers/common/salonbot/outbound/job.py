"""The scheduled outbound job: a reminder run, a feedback run, then the waitlist's
offers, on the per-container connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot.db.connection import autocommit, get_connection
from salonbot.outbound.feedback import FeedbackRun
from salonbot.outbound.reminders import ReminderRun
from salonbot.outbound.waitlist import WaitlistRun

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
        reminders = ReminderRun(whatsapp, deadline=deadline).run(conn)
        feedback = FeedbackRun(whatsapp, deadline=deadline).run(conn)
        offers = WaitlistRun(whatsapp, deadline=deadline).run(conn)
    return {
        "reminders": reminders.as_dict(),
        "feedback": feedback.as_dict(),
        "waitlist": offers.as_dict(),
    }
