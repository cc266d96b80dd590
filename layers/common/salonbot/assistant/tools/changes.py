"""The tools that change the calendar: book, move, cancel.

Only the desk decides: a refused time (taken, outside working hours, too soon) comes back
as an error result with the nearest free times, so the model can offer them in the same
reply instead of calling again."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from salonbot.assistant.tools.definition import Args, Result, tool
from salonbot.assistant.tools.lookup import ALTERNATIVES, earliest_times
from salonbot.assistant.tools.results import booking_summary, error, error_kind, when
from salonbot.errors import SalonbotError, SlotTaken, SlotUnavailable

if TYPE_CHECKING:
    from salonbot.assistant.tools.context import ToolContext

# A start this many years before or after the current one is refused as an argument.
YEARS_AROUND_NOW = 2


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


def _alternatives(
    ctx: ToolContext, service: str, wanted: dt.datetime, master: str | None
) -> list[str]:
    """Free times nearest the one that was refused: the same day first, else the earliest."""
    try:
        day = ctx.desk.slots_on(service, wanted.date(), master)
    except SalonbotError:
        day = []
    if day:
        nearest = sorted(day, key=lambda s: abs((s.starts_at - wanted).total_seconds()))
        chosen = sorted(nearest[:ALTERNATIVES], key=lambda s: s.starts_at)
        return [f"{when(s.starts_at)} {s.master_code}" for s in chosen]
    try:
        return earliest_times(ctx, service, master, ALTERNATIVES)
    except SalonbotError:
        return []


class BookArgs(Args):
    service: str = Field(min_length=1, max_length=100)
    start: LocalStart
    master: str | None = Field(default=None, max_length=100)


@tool(BookArgs, "Book")
def book(ctx: ToolContext, args: BookArgs) -> Result:
    start = _localize(ctx, args.start)
    # One inbound message may book more than once (two services): number them.
    source = f"{ctx.message_id}#{len(ctx.booked)}" if ctx.message_id else None
    try:
        booking = ctx.desk.book(
            args.service,
            start,
            args.master,
            client_name=ctx.client_name,
            source_message_id=source,
        )
    except (SlotTaken, SlotUnavailable) as exc:
        return error(
            error_kind(exc),
            str(exc),
            booked=False,
            alternatives=_alternatives(ctx, args.service, start, args.master),
        )
    ctx.booked.append(booking)
    return {"ok": True, "booked": booking_summary(ctx, booking)}


class MoveArgs(Args):
    code: str = Field(min_length=1, max_length=40)
    start: LocalStart
    master: str | None = Field(default=None, max_length=100)


@tool(MoveArgs, "Move a booking")
def move(ctx: ToolContext, args: MoveArgs) -> Result:
    start = _localize(ctx, args.start)
    try:
        booking = ctx.desk.move(args.code, start, args.master)
    except (SlotTaken, SlotUnavailable) as exc:
        current = ctx.desk.find(args.code)
        return error(
            error_kind(exc),
            str(exc),
            moved=False,
            alternatives=_alternatives(ctx, current.service_code, start, args.master),
        )
    ctx.moved.append(booking)
    return {"ok": True, "moved": booking_summary(ctx, booking)}


class CancelArgs(Args):
    code: str = Field(min_length=1, max_length=40)


@tool(CancelArgs, "Cancel a booking")
def cancel(ctx: ToolContext, args: CancelArgs) -> Result:
    booking = ctx.desk.cancel(args.code)
    ctx.cancelled.append(booking)
    return {"ok": True, "cancelled": booking_summary(ctx, booking)}
