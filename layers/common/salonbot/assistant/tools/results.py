"""How outcomes are written for the model: small JSON objects, `{"ok": true, ...}` or
`{"ok": false, "error": <kind>, "message": ...}`, with times and prices in the few
tokens the model needs to word them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot.errors import (
    BookingLimitReached,
    BookingNotFound,
    ChangeTooLate,
    ClientBusy,
    InvalidInput,
    SalonbotError,
    SlotTaken,
    SlotUnavailable,
    UnknownMaster,
    UnknownService,
)
from salonbot.texts import phrases

if TYPE_CHECKING:
    import datetime as dt
    from decimal import Decimal

    from salonbot.assistant.tools.context import ToolContext
    from salonbot.assistant.tools.definition import Result
    from salonbot.booking.store import Booking


def hhmm(value: dt.datetime) -> str:
    return f"{value:%H:%M}"


def when(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


def price(ctx: ToolContext, amount: Decimal) -> str:
    # The model quotes it to the customer: written as the customer's catalogue writes it.
    return phrases(ctx.language, ctx.salon.language).money(amount, ctx.salon.currency)


def _name(ctx: ToolContext, names: dict[str, str], code: str) -> str:
    return names.get(ctx.language) or next(iter(names.values()), code)


def booking_summary(ctx: ToolContext, booking: Booking) -> dict[str, Any]:
    service = _name(ctx, booking.service_names, booking.service_code)
    master = booking.master_name
    if len(booking.items) > 1:  # a visit: its services in order, its masters
        service = " + ".join(_name(ctx, i.service_names, i.service_code) for i in booking.items)
        master = ", ".join(dict.fromkeys(i.master_name for i in booking.items))
    return {
        "code": booking.code,
        "service": service,
        "master": master,
        "start": when(booking.starts_at),
        "end": hhmm(booking.ends_at),
        "price": price(ctx, booking.price),
    }


def error(kind: str, message: str, **extra: Any) -> Result:
    return {"ok": False, "error": kind, "message": message, **extra}


# Most specific first: `ClientBusy` is a `SlotTaken`.
_ERROR_KINDS: tuple[tuple[type[SalonbotError], str], ...] = (
    (ClientBusy, "client_busy"),
    (BookingLimitReached, "booking_limit"),
    (ChangeTooLate, "change_cutoff"),
    (SlotTaken, "slot_taken"),
    (SlotUnavailable, "slot_unavailable"),
    (BookingNotFound, "booking_not_found"),
    (UnknownService, "unknown_service"),
    (UnknownMaster, "unknown_master"),
    (InvalidInput, "invalid_input"),
)


def error_kind(exc: SalonbotError) -> str:
    for cls, kind in _ERROR_KINDS:
        if isinstance(exc, cls):
            return kind
    return "refused"
