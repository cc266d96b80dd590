"""The tools the model may call, over the booking core.

The model proposes, the code decides: arguments are validated with pydantic (unknown
fields refused, so no argument can name a salon or a customer), the salon and the
customer come from the `ToolContext` the conversation built, and every outcome goes back
to the model as a small JSON object: `{"ok": true, ...}` or `{"ok": false, "error":
<kind>, "message": ...}`. A tool never raises for a bad call; database and programming
errors do propagate (the message is then retried as a whole).

Schemas are hand-written and terse: they are sent with every model call."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from salonbot.booking import availability, store
from salonbot.errors import (
    BookingNotFound,
    InvalidInput,
    SalonbotError,
    SlotTaken,
    SlotUnavailable,
    UnknownMaster,
    UnknownService,
)
from salonbot.texts import phrases

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from decimal import Decimal

    from salonbot.booking.availability import Slot
    from salonbot.booking.catalog import Salon
    from salonbot.booking.store import Booking
    from salonbot.db.connection import Connection

EARLIEST_LIMIT = 5
ALTERNATIVES = 3
# A start this many years before or after the current one is refused as an argument.
YEARS_AROUND_NOW = 2


# -- arguments ----------------------------------------------------------------------------


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _local_start(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be 'YYYY-MM-DD HH:MM'") from None
    return parsed


def _near_now(value: dt.datetime, info: ValidationInfo) -> dt.datetime:
    """A start within `YEARS_AROUND_NOW` years of the turn's "now" (the validation
    context's `now`, else the clock): far years are not bookings, and the extremes
    overflow when converted to the salon's timezone."""
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now") or dt.datetime.now(dt.UTC)
    if abs(value.year - now.year) > YEARS_AROUND_NOW:
        raise ValueError(f"must be within {YEARS_AROUND_NOW} years of {now:%Y-%m-%d}")
    return value


class NoArgs(_Args):
    pass


class SlotsArgs(_Args):
    service: str = Field(min_length=1, max_length=100)
    date: dt.date | None = None
    master: str | None = Field(default=None, max_length=100)


class BookArgs(_Args):
    service: str = Field(min_length=1, max_length=100)
    start: dt.datetime
    master: str | None = Field(default=None, max_length=100)

    @field_validator("start", mode="before")
    @classmethod
    def _parse_start(cls, value: object) -> object:
        return _local_start(value) if isinstance(value, str) else value

    @field_validator("start")
    @classmethod
    def _start_near_now(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        return _near_now(value, info)


class MoveArgs(_Args):
    code: str = Field(min_length=1, max_length=40)
    start: dt.datetime
    master: str | None = Field(default=None, max_length=100)

    @field_validator("start", mode="before")
    @classmethod
    def _parse_start(cls, value: object) -> object:
        return _local_start(value) if isinstance(value, str) else value

    @field_validator("start")
    @classmethod
    def _start_near_now(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        return _near_now(value, info)


class CancelArgs(_Args):
    code: str = Field(min_length=1, max_length=40)


class HandoffArgs(_Args):
    reason: str | None = Field(default=None, max_length=500)


# -- schemas sent to the model ---------------------------------------------------------------

_STR: dict[str, Any] = {"type": "string"}
_START: dict[str, Any] = {"type": "string", "description": "YYYY-MM-DD HH:MM"}


def _function(
    name: str, description: str, properties: dict[str, Any], required: Sequence[str] = ()
) -> dict[str, Any]:
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = list(required)
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


TOOL_SPECS: list[dict[str, Any]] = [
    _function("services", "Services, prices, masters", {}),
    _function(
        "slots",
        "Free start times; no date: earliest",
        {"service": _STR, "date": {"type": "string", "description": "YYYY-MM-DD"}, "master": _STR},
        ["service"],
    ),
    _function(
        "book", "Book", {"service": _STR, "start": _START, "master": _STR}, ["service", "start"]
    ),
    _function(
        "move", "Move a booking", {"code": _STR, "start": _START, "master": _STR}, ["code", "start"]
    ),
    _function("cancel", "Cancel a booking", {"code": _STR}, ["code"]),
    _function("my_bookings", "Customer's upcoming bookings", {}),
    _function("handoff", "Pass to salon staff", {"reason": _STR}),
]


# -- context and outcomes ---------------------------------------------------------------


@dataclass
class ToolContext:
    """Who is asking, from the conversation; and what the tools did this turn."""

    conn: Connection
    salon: Salon
    phone: str  # E.164
    now: dt.datetime
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
    def changed_bookings(self) -> bool:
        return bool(self.booked or self.moved or self.cancelled)

    def known_codes(self) -> set[str]:
        return {b.code for b in (*self.booked, *self.moved, *self.cancelled)}


# -- rendering ------------------------------------------------------------------------------


def _hhmm(value: dt.datetime) -> str:
    return f"{value:%H:%M}"


def _when(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


def _price(ctx: ToolContext, amount: Decimal) -> str:
    # The model quotes it to the customer: written as the customer's catalogue writes it.
    return phrases(ctx.language, ctx.salon.language).money(amount, ctx.salon.currency)


def _booking(ctx: ToolContext, booking: Booking) -> dict[str, Any]:
    names = booking.service_names
    return {
        "code": booking.code,
        "service": names.get(ctx.language) or next(iter(names.values()), booking.service_code),
        "master": booking.master_name,
        "start": _when(booking.starts_at),
        "end": _hhmm(booking.ends_at),
        "price": _price(ctx, booking.price),
    }


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
            runs.append(_hhmm(first) if first == last else f"{_hhmm(first)}-{_hhmm(last)}")
            if start is not None:
                first = last = start
        result[master] = runs
    return result


def _earliest(ctx: ToolContext, service: str, master: str | None, limit: int) -> list[str]:
    slots = availability.earliest_slots(
        ctx.conn, ctx.salon, service, master, limit=limit, now=ctx.now
    )
    return [f"{_when(s.starts_at)} {s.master_code}" for s in slots]


def _alternatives(
    ctx: ToolContext, service: str, wanted: dt.datetime, master: str | None
) -> list[str]:
    """Free times nearest the one that was refused: the same day first, else the earliest."""
    try:
        day = availability.free_slots(
            ctx.conn, ctx.salon, service, wanted.date(), master, now=ctx.now
        )
    except SalonbotError:
        day = []
    if day:
        nearest = sorted(day, key=lambda s: abs((s.starts_at - wanted).total_seconds()))
        chosen = sorted(nearest[:ALTERNATIVES], key=lambda s: s.starts_at)
        return [f"{_when(s.starts_at)} {s.master_code}" for s in chosen]
    try:
        return _earliest(ctx, service, master, ALTERNATIVES)
    except SalonbotError:
        return []


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": kind, "message": message, **extra}


_ERROR_KINDS: tuple[tuple[type[SalonbotError], str], ...] = (
    (SlotTaken, "slot_taken"),
    (SlotUnavailable, "slot_unavailable"),
    (BookingNotFound, "booking_not_found"),
    (UnknownService, "unknown_service"),
    (UnknownMaster, "unknown_master"),
    (InvalidInput, "invalid_input"),
)


def _error_kind(exc: SalonbotError) -> str:
    for cls, kind in _ERROR_KINDS:
        if isinstance(exc, cls):
            return kind
    return "refused"


# -- the tools ------------------------------------------------------------------------------


def _localize(ctx: ToolContext, value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=ctx.salon.tz)
    return value.astimezone(ctx.salon.tz)


def services(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    salon = ctx.salon
    return {
        "ok": True,
        "services": [
            {
                "code": s.code,
                "name": s.name(ctx.language),
                "min": s.duration_minutes,
                "price": _price(ctx, s.price),
                "masters": [m.code for m in salon.masters_for(s)],
            }
            for s in salon.services.values()
        ],
    }


def slots(ctx: ToolContext, args: SlotsArgs) -> dict[str, Any]:
    if args.date is None:
        return {"ok": True, "earliest": _earliest(ctx, args.service, args.master, EARLIEST_LIMIT)}
    found = availability.free_slots(
        ctx.conn, ctx.salon, args.service, args.date, args.master, now=ctx.now
    )
    result: dict[str, Any] = {
        "ok": True,
        "date": args.date.isoformat(),
        "step_min": ctx.salon.slot_step_minutes,
        "free": slot_ranges(found, ctx.salon.slot_step_minutes),
    }
    if not found:  # saves a model call: the customer will ask "when then?"
        result["earliest"] = _earliest(ctx, args.service, args.master, ALTERNATIVES)
    return result


def book(ctx: ToolContext, args: BookArgs) -> dict[str, Any]:
    start = _localize(ctx, args.start)
    # One inbound message may book more than once (two services): number them.
    source = f"{ctx.message_id}#{len(ctx.booked)}" if ctx.message_id else None
    try:
        booking = store.create_booking(
            ctx.conn,
            ctx.salon,
            phone=ctx.phone,
            service_code=args.service,
            starts_at=start,
            master_code=args.master,
            client_name=ctx.client_name,
            source_message_id=source,
            now=ctx.now,
        )
    except (SlotTaken, SlotUnavailable) as exc:
        return _error(
            _error_kind(exc),
            str(exc),
            booked=False,
            alternatives=_alternatives(ctx, args.service, start, args.master),
        )
    ctx.booked.append(booking)
    return {"ok": True, "booked": _booking(ctx, booking)}


def move(ctx: ToolContext, args: MoveArgs) -> dict[str, Any]:
    start = _localize(ctx, args.start)
    try:
        booking = store.move_booking(
            ctx.conn,
            ctx.salon,
            phone=ctx.phone,
            code=args.code,
            starts_at=start,
            master_code=args.master,
            now=ctx.now,
        )
    except (SlotTaken, SlotUnavailable) as exc:
        current = store.find_booking(ctx.conn, ctx.salon, phone=ctx.phone, code=args.code)
        return _error(
            _error_kind(exc),
            str(exc),
            moved=False,
            alternatives=_alternatives(ctx, current.service_code, start, args.master),
        )
    ctx.moved.append(booking)
    return {"ok": True, "moved": _booking(ctx, booking)}


def cancel(ctx: ToolContext, args: CancelArgs) -> dict[str, Any]:
    booking = store.cancel_booking(
        ctx.conn, ctx.salon, phone=ctx.phone, code=args.code, now=ctx.now
    )
    ctx.cancelled.append(booking)
    return {"ok": True, "cancelled": _booking(ctx, booking)}


def my_bookings(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    found = store.list_bookings(ctx.conn, ctx.salon, phone=ctx.phone, now=ctx.now)
    return {"ok": True, "bookings": [_booking(ctx, b) for b in found]}


def handoff(ctx: ToolContext, args: HandoffArgs) -> dict[str, Any]:
    ctx.handoff = True
    ctx.handoff_reason = args.reason
    return {"ok": True, "handed_off": True}


@dataclass(frozen=True)
class Tool:
    args: type[_Args]
    run: Callable[[ToolContext, Any], dict[str, Any]]


TOOLS: dict[str, Tool] = {
    "services": Tool(NoArgs, services),
    "slots": Tool(SlotsArgs, slots),
    "book": Tool(BookArgs, book),
    "move": Tool(MoveArgs, move),
    "cancel": Tool(CancelArgs, cancel),
    "my_bookings": Tool(NoArgs, my_bookings),
    "handoff": Tool(HandoffArgs, handoff),
}


def _validation_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        if error["type"] == "extra_forbidden":
            problems.append(f"{where}: not an argument (salon and customer come from the chat)")
        else:
            problems.append(f"{where}: {error['msg']}")
    return problems


def run_tool(ctx: ToolContext, name: str, raw_arguments: str | None) -> dict[str, Any]:
    """Validate and run one tool call; the result is what the model sees."""
    result = _run(ctx, name, raw_arguments)
    ctx.calls.append({"name": name, "arguments": raw_arguments, "result": result})
    return result


def _run(ctx: ToolContext, name: str, raw_arguments: str | None) -> dict[str, Any]:
    tool = TOOLS.get(name)
    if tool is None:
        return _error("unknown_tool", f"no tool {name!r}; tools: {', '.join(TOOLS)}")
    try:
        data = json.loads(raw_arguments or "{}")
    except ValueError:
        return _error("invalid_arguments", "arguments are not valid JSON")
    if not isinstance(data, dict):
        return _error("invalid_arguments", "arguments must be a JSON object")
    try:
        args = tool.args.model_validate(data, context={"now": ctx.now})
    except ValidationError as exc:
        return _error("invalid_arguments", "; ".join(_validation_problems(exc)))
    try:
        return tool.run(ctx, args)
    except SalonbotError as exc:
        return _error(_error_kind(exc), str(exc))
    except (ValueError, OverflowError) as exc:
        # A value the checks let through that the code cannot use (a date out of range
        # once converted): the model is told, the turn goes on.
        return _error("invalid_arguments", f"arguments out of range: {exc}")
