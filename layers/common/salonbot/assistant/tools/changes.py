"""The tools that change the calendar: book, move, cancel.

Only the desk decides: a refused time (taken, outside working hours, too soon, or the
customer's own other booking then) comes back as an error result with the nearest free
times, so the model can offer them in the same reply instead of calling again. The
salon's limit of live bookings per customer comes back as `booking_limit`, with the
customer's bookings, so the model can offer to move or cancel one instead.

One change of each kind per customer message (`one_per_message` otherwise), so a message
like "book me every free slot on Friday", or a model calling `book` twenty times in one
turn, cannot fill the calendar:
- `book`: one booking per service per message. Several services in one message
  ("manicure and pedicure") are several bookings, one each, up to the salon's limit of
  live bookings; a second booking of a service already booked in this message is
  refused. The database keeps one customer's bookings from overlapping, so two identical
  calls (same service, same start) never book twice, whichever masters are free.
- `move`, `cancel`: one booking per message; calls about the booking already moved or
  cancelled in this message (the same change aimed again) go on as before.
Refused calls change nothing and do not count. The next change waits for the customer's
next message, which confirms it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from salonbot.assistant.tools.definition import Args, Result, tool
from salonbot.assistant.tools.lookup import ALTERNATIVES, visit_codes
from salonbot.assistant.tools.results import booking_summary, error, error_kind, when
from salonbot.booking.codes import normalize_booking_code
from salonbot.errors import (
    BookingLimitReached,
    ChangeTooLate,
    SalonbotError,
    SlotTaken,
    SlotUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from salonbot.assistant.tools.context import ToolContext
    from salonbot.booking.availability import Slot
    from salonbot.booking.store import Booking

# A start this many years before or after the current one is refused as an argument.
YEARS_AROUND_NOW = 2
# Earliest free times read to find alternatives clear of the customer's own bookings.
EARLIEST_SCAN = 24
NEXT_MESSAGE = "ask the customer to confirm the next one in their next message"
# Inside the salon's cut-off the customer cannot change a visit alone; staff can.
STAFF_INSTEAD = "offer to pass the request to the salon's staff (handoff), who can still change it"


def _local_start(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be 'YYYY-MM-DD HH:MM'") from None


def _near_now(value: dt.datetime, info: ValidationInfo) -> dt.datetime:
    """A start within `YEARS_AROUND_NOW` years of the turn's "now" (the validation
    context's `now`, else the clock): far years are not bookings, and the extremes
    overflow when converted to the salon's timezone."""
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now") or dt.datetime.now(dt.UTC)
    if abs(value.year - now.year) > YEARS_AROUND_NOW:
        raise ValueError(f"must be within {YEARS_AROUND_NOW} years of {now:%Y-%m-%d}")
    return value


# A start as the model writes it: salon-local unless it names an offset.
LocalStart = Annotated[
    dt.datetime,
    BeforeValidator(_local_start),
    AfterValidator(_near_now),
    Field(description="YYYY-MM-DD HH:MM"),
]


def _localize(ctx: ToolContext, value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=ctx.salon.tz)
    return value.astimezone(ctx.salon.tz)


def _clear_of(slots: Sequence[Slot], own: Sequence[Booking]) -> list[Slot]:
    """The slots that overlap none of the customer's own bookings (as instants: in a DST
    night two wall times are equal)."""
    busy = [(b.starts_at.timestamp(), b.ends_at.timestamp()) for b in own]
    return [
        s
        for s in slots
        if all(e <= s.starts_at.timestamp() or s.ends_at.timestamp() <= b for b, e in busy)
    ]


def _items_of(booking: Booking) -> list[Any]:
    """A booking's items (one for a booking made before visits had them)."""
    return list(booking.items) or [booking]


def _alternatives(
    ctx: ToolContext,
    service: str | list[str],
    wanted: dt.datetime,
    master: str | None,
    *,
    moving: str | None = None,
) -> list[str]:
    """Free times nearest the one that was refused: the same day first, else the earliest;
    none overlapping the customer's other bookings (the one being moved does not count)."""
    try:
        own = [b for b in ctx.desk.upcoming() if b.code != moving]
        day = _clear_of(ctx.desk.slots_on(service, wanted.date(), master), own)
    except SalonbotError:
        own, day = [], []
    if day:
        nearest = sorted(day, key=lambda s: abs((s.starts_at - wanted).total_seconds()))
        chosen = sorted(nearest[:ALTERNATIVES], key=lambda s: s.starts_at)
        return [f"{when(s.starts_at)} {s.master_code}" for s in chosen]
    try:
        scan = EARLIEST_SCAN if own else ALTERNATIVES
        earliest = _clear_of(ctx.desk.earliest(service, master, limit=scan), own)
    except SalonbotError:
        return []
    return [f"{when(s.starts_at)} {s.master_code}" for s in earliest[:ALTERNATIVES]]


def _one_per_message(kind: str, done: Sequence[Booking], code: str) -> Result | None:
    """The refusal of a second move or cancel in one message, or None. `code`: the booking
    this call is about (the one already changed may be changed again)."""
    if not done or normalize_booking_code(code) in {b.code for b in done}:
        return None
    return error(
        "one_per_message",
        f"this message already {kind} booking {done[0].code}; one per message: {NEXT_MESSAGE}",
    )


class BookArgs(Args):
    service: str = Field(min_length=1, max_length=100)
    start: LocalStart
    master: str | None = Field(default=None, max_length=100)


@tool(BookArgs, "Book; a+b: visit")
def book(ctx: ToolContext, args: BookArgs) -> Result:
    start = _localize(ctx, args.start)
    visit = visit_codes(args.service)
    wanted = [visit] if isinstance(visit, str) else visit
    booked = {item.service_code: b for b in ctx.booked for item in _items_of(b)}
    again = next(((code, booked[code]) for code in wanted if code in booked), None)
    if again is not None:
        code, earlier = again
        return error(
            "one_per_message",
            f"this message already booked {code} ({earlier.code}); one booking per "
            f"service per message: {NEXT_MESSAGE}",
            booked=False,
        )
    # One inbound message may book more than once (two services): number them.
    source = f"{ctx.message_id}#{len(ctx.booked)}" if ctx.message_id else None
    try:
        booking = ctx.desk.book(
            visit,
            start,
            args.master,
            client_name=ctx.client_name,
            source_message_id=source,
        )
    except BookingLimitReached as exc:
        return error(
            error_kind(exc),
            f"{exc}; offer to move or cancel one of these instead",
            booked=False,
            limit=exc.limit,
            bookings=[booking_summary(ctx, b) for b in ctx.desk.upcoming()],
        )
    except (SlotTaken, SlotUnavailable) as exc:
        return error(
            error_kind(exc),
            str(exc),
            booked=False,
            alternatives=_alternatives(ctx, wanted, start, args.master),
        )
    ctx.booked.append(booking)
    return {"ok": True, "booked": booking_summary(ctx, booking)}


class MoveArgs(Args):
    code: str = Field(min_length=1, max_length=40)
    start: LocalStart
    master: str | None = Field(default=None, max_length=100)


@tool(MoveArgs, "Move a booking")
def move(ctx: ToolContext, args: MoveArgs) -> Result:
    refused = _one_per_message("moved", ctx.moved, args.code)
    if refused is not None:
        return {**refused, "moved": False}
    start = _localize(ctx, args.start)
    try:
        booking = ctx.desk.move(args.code, start, args.master)
    except ChangeTooLate as exc:
        return error(error_kind(exc), f"{exc}; {STAFF_INSTEAD}", moved=False)
    except (SlotTaken, SlotUnavailable) as exc:
        current = ctx.desk.find(args.code)
        return error(
            error_kind(exc),
            str(exc),
            moved=False,
            alternatives=_alternatives(
                ctx,
                [item.service_code for item in _items_of(current)],
                start,
                args.master,
                moving=current.code,
            ),
        )
    ctx.moved.append(booking)
    return {"ok": True, "moved": booking_summary(ctx, booking)}


class CancelArgs(Args):
    code: str = Field(min_length=1, max_length=40)


@tool(CancelArgs, "Cancel a booking")
def cancel(ctx: ToolContext, args: CancelArgs) -> Result:
    refused = _one_per_message("cancelled", ctx.cancelled, args.code)
    if refused is not None:
        return {**refused, "cancelled": False}
    try:
        booking = ctx.desk.cancel(args.code)
    except ChangeTooLate as exc:
        return error(error_kind(exc), f"{exc}; {STAFF_INSTEAD}", cancelled=False)
    ctx.cancelled.append(booking)
    return {"ok": True, "cancelled": booking_summary(ctx, booking)}
