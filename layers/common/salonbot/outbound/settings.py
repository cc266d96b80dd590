"""A salon's outbound settings: reminders before each visit and quiet hours.

Stored as `salons.outbound` (jsonb) by the importer and read back with the salon, so a
new outbound setting needs no migration of its own."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salonbot.booking.salon_file import SalonFile


@dataclass(frozen=True)
class QuietHours:
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class OutboundSettings:
    reminders: tuple[int, ...] = ()  # minutes before the visit, largest first
    quiet_hours: QuietHours | None = None
    feedback_after_minutes: int | None = None  # after the visit's end; None: never
    waitlist_offer_minutes: int = 30
    confirm_required_after_no_shows: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> OutboundSettings:
        data = data or {}
        quiet = data.get("quiet_hours")
        return cls(
            reminders=tuple(sorted((int(m) for m in data.get("reminders", [])), reverse=True)),
            quiet_hours=(
                QuietHours(
                    dt.time.fromisoformat(quiet["start"]), dt.time.fromisoformat(quiet["end"])
                )
                if quiet
                else None
            ),
            feedback_after_minutes=data.get("feedback_after_minutes"),
            waitlist_offer_minutes=int(data.get("waitlist_offer_minutes", 30)),
            confirm_required_after_no_shows=data.get("confirm_required_after_no_shows"),
        )


def outbound_settings(salon: SalonFile) -> dict[str, Any]:
    """What the importer stores in `salons.outbound`."""
    data: dict[str, Any] = {
        "reminders": [r.before_minutes for r in salon.reminders],
        "feedback_after_minutes": salon.feedback_after_minutes,
        "waitlist_offer_minutes": salon.waitlist_offer_minutes,
        "confirm_required_after_no_shows": salon.confirm_required_after_no_shows,
    }
    if salon.quiet_hours is not None:
        data["quiet_hours"] = {"start": salon.quiet_hours.start, "end": salon.quiet_hours.end}
    return data
