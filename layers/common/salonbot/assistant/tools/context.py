"""What a tool knows of the turn: the booking desk (the salon, the customer and the clock
the conversation established) and what the tools did so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.booking.catalog import Salon
    from salonbot.booking.desk import BookingDesk
    from salonbot.booking.store import Booking


@dataclass
class ToolContext:
    """Who is asking, from the conversation; and what the tools did this turn.

    The tools reach the calendar only through `desk`, one per turn over the turn's
    transaction, so a tool cannot name another salon, customer or instant."""

    desk: BookingDesk
    language: str
    message_id: str | None = None  # the inbound wamid: bookings made by it are idempotent
    client_name: str | None = None
    booked: list[Booking] = field(default_factory=list)
    moved: list[Booking] = field(default_factory=list)
    cancelled: list[Booking] = field(default_factory=list)
    handoff_reason: str | None = None
    handoff: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)  # audit: name, args, result

    @property
    def salon(self) -> Salon:
        return self.desk.salon

    @property
    def phone(self) -> str:
        return self.desk.phone  # E.164

    @property
    def now(self) -> dt.datetime:
        return self.desk.now  # salon-local

    @property
    def changed_bookings(self) -> bool:
        return bool(self.booked or self.moved or self.cancelled)

    def known_codes(self) -> set[str]:
        return {b.code for b in (*self.booked, *self.moved, *self.cancelled)}
