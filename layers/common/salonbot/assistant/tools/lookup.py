"""The tools that read the calendar: services, free times, the customer's bookings."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pydantic import Field

from salonbot.assistant.tools.definition import Args, NoArgs, Result, tool
from salonbot.assistant.tools.results import booking_summary, hhmm, price, when
from salonbot.booking.visits import MAX_ITEMS
from salonbot.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Sequence

    from salonbot.assistant.tools.context import ToolContext
    from salonbot.booking.availability import Slot

EARLIEST_LIMIT = 5
ALTERNATIVES = 3  # free times offered instead of one that was refused or is not there
VISIT_JOIN = "+"  # "manicure+pedicure": one visit, back to back


def slot_ranges(slots: Sequence[Slot], step_minutes: int) -> dict[str, list[str]]:
    """Per master, runs of start times one step apart as 'HH:MM-HH:MM' (a lone time as
    'HH:MM'): a day of 15-minute slots in a few tokens, with nothing lost."""
    by_master: dict[str, list[dt.datetime]] = {}
    for slot in slots:
        by_master.setdefault(slot.master_code, []).append(slot.starts_at)
    step = dt.timedelta(minutes=step_minutes)
    result: dict[str, list[str]] = {}
    for master, starts in by_master.items():
        starts.sort()
        runs: list[str] = []
        first = last = starts[0]
        for start in [*starts[1:], None]:
            if start is not None and start - last == step:
                last = start
                continue
            runs.append(hhmm(first) if first == last else f"{hhmm(first)}-{hhmm(last)}")
            if start is not None:
                first = last = start
        result[master] = runs
    return result


def earliest_times(
    ctx: ToolContext, service: str | Sequence[str], master: str | None, limit: int
) -> list[str]:
    """The first free times from now on, as 'YYYY-MM-DD HH:MM master'."""
    slots = ctx.desk.earliest(service, master, limit=limit)
    return [f"{when(s.starts_at)} {s.master_code}" for s in slots]


@tool(NoArgs, "Services, prices, masters")
def services(ctx: ToolContext, args: NoArgs) -> Result:
    return {
        "ok": True,
        "services": [
            {
                "code": s.code,
                "name": s.name(ctx.language),
                "min": s.duration_minutes,
                "price": price(ctx, s.price),
                "masters": [m.code for m in ctx.salon.masters_for(s)],
            }
            for s in ctx.desk.services()
        ],
    }


def visit_codes(service: str) -> str | list[str]:
    """`service` as the model writes it: one code, or a visit's codes joined by "+"
    ("manicure+pedicure": back to back, in that order)."""
    codes = [code.strip() for code in service.split(VISIT_JOIN)]
    if len(codes) == 1:
        return codes[0]
    if not all(codes) or len(codes) > MAX_ITEMS:
        raise InvalidInput(f"one service code, or up to {MAX_ITEMS} joined by '+'", field="service")
    return codes


class SlotsArgs(Args):
    service: str = Field(min_length=1, max_length=100)
    date: dt.date | None = Field(default=None, description="YYYY-MM-DD")
    master: str | None = Field(default=None, max_length=100)

    def visit(self) -> str | list[str]:
        return visit_codes(self.service)


@tool(SlotsArgs, "Free start times; no date: earliest; a+b: visit")
def slots(ctx: ToolContext, args: SlotsArgs) -> Result:
    if args.date is None:
        return {
            "ok": True,
            "earliest": earliest_times(ctx, args.visit(), args.master, EARLIEST_LIMIT),
        }
    found = ctx.desk.slots_on(args.visit(), args.date, args.master)
    step = ctx.salon.slot_step_minutes
    result: Result = {
        "ok": True,
        "date": args.date.isoformat(),
        "step_min": step,
        "free": slot_ranges(found, step),
    }
    if not found:  # saves a model call: the customer will ask "when then?"
        result["earliest"] = earliest_times(ctx, args.visit(), args.master, ALTERNATIVES)
    return result


@tool(NoArgs, "Customer's upcoming bookings")
def my_bookings(ctx: ToolContext, args: NoArgs) -> Result:
    return {"ok": True, "bookings": [booking_summary(ctx, b) for b in ctx.desk.upcoming()]}
