"""The guided flow's option ids: what a list row or a reply button means, written into the
id WhatsApp sends back when the customer taps it.

Every id is encoded and decoded here and nowhere else, so the dialogue only ever sees the
typed choices below. The wire format is a short prefix and a value (`svc:manicure`,
`time:2030-01-08T15:00:00+03:00|anna`): it stays readable in logs, far within WhatsApp's
200-character limit, and unchanged across releases, so a tap under a message sent by an
older container still means what it meant. A confirm button names the slot it confirms,
so a tap under an older confirmation can be told from the current one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ANY_MASTER = "*"  # the "any master" choice, as the state stores it too


@dataclass(frozen=True)
class SlotRef:
    """One free time as offered: its start and the master who has it then."""

    start: dt.datetime
    master: str  # master code; "" when the offer named none


@dataclass(frozen=True)
class MenuItem:
    item: str  # book, mine, prices, address, human; "" (or anything else): the menu


@dataclass(frozen=True)
class PickService:
    code: str


@dataclass(frozen=True)
class PickMaster:
    code: str  # a master's code, or ANY_MASTER


@dataclass(frozen=True)
class PickDay:
    day: dt.date


@dataclass(frozen=True)
class LaterDays:
    first: dt.date  # the first day of the next page of days


@dataclass(frozen=True)
class LaterTimes:
    page: int


@dataclass(frozen=True)
class OtherDay:
    pass


@dataclass(frozen=True)
class PickTime:
    slot: SlotRef


@dataclass(frozen=True)
class Confirm:
    slot: SlotRef | None  # None: a confirm button that names no slot (never the current one)


@dataclass(frozen=True)
class Decline:
    pass


@dataclass(frozen=True)
class BookingMenu:
    code: str  # what to do with this booking: move, cancel, back to the menu


@dataclass(frozen=True)
class AskCancel:
    code: str


@dataclass(frozen=True)
class ConfirmCancel:
    code: str


@dataclass(frozen=True)
class StartMove:
    code: str


@dataclass(frozen=True)
class Unknown:
    """An id in our format that means nothing (any more): answered as an expired choice."""

    raw: str


Choice = (
    MenuItem
    | PickService
    | PickMaster
    | PickDay
    | LaterDays
    | LaterTimes
    | OtherDay
    | PickTime
    | Confirm
    | Decline
    | BookingMenu
    | AskCancel
    | ConfirmCancel
    | StartMove
    | Unknown
)

_DECLINE = "no"
_CONFIRM = "ok"


def encode_slot(slot: SlotRef) -> str:
    return f"{slot.start.isoformat()}|{slot.master}"


def decode_slot(value: str) -> SlotRef | None:
    start, _, master = value.partition("|")
    try:
        parsed = dt.datetime.fromisoformat(start)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return SlotRef(parsed, master)


def encode(choice: Choice) -> str:
    """The id for an option that means `choice`."""
    match choice:
        case MenuItem(item):
            return f"menu:{item}"
        case PickService(code):
            return f"svc:{code}"
        case PickMaster(code):
            return f"mst:{code}"
        case PickDay(day):
            return f"day:{day.isoformat()}"
        case LaterDays(first):
            return f"days:{first.isoformat()}"
        case LaterTimes(page):
            return f"times:{page}"
        case OtherDay():
            return "otherday:"
        case PickTime(slot):
            return f"time:{encode_slot(slot)}"
        case Confirm(slot):
            return f"{_CONFIRM}:{encode_slot(slot) if slot else ''}"
        case Decline():
            return _DECLINE
        case BookingMenu(code):
            return f"bk:{code}"
        case AskCancel(code):
            return f"cancel:{code}"
        case ConfirmCancel(code):
            return f"cancelok:{code}"
        case StartMove(code):
            return f"move:{code}"
        case Unknown(raw):
            return raw


def is_option_id(value: str) -> bool:
    """Whether a tapped id is one of ours (a template's quick-reply payload may not be)."""
    return ":" in value or value in (_CONFIRM, _DECLINE)


def decode(value: str) -> Choice | None:
    """The choice an option id means; None for an id that is not ours, `Unknown` for one
    in our format that names nothing this version offers."""
    if not is_option_id(value):
        return None
    if value == _DECLINE:
        return Decline()
    kind, _, rest = value.partition(":")
    try:
        return _decode(kind, rest) or Unknown(value)
    except ValueError:
        return Unknown(value)


def _decode(kind: str, value: str) -> Choice | None:
    # ValueError from a malformed date or number means the same as an unknown kind.
    if kind == "menu":
        return MenuItem(value)
    if kind == "svc":
        return PickService(value)
    if kind == "mst":
        return PickMaster(value)
    if kind == "day":
        return PickDay(dt.date.fromisoformat(value))
    if kind == "days":
        return LaterDays(dt.date.fromisoformat(value))
    if kind == "times":
        return LaterTimes(int(value))
    if kind == "otherday":
        return OtherDay()
    if kind == "time":
        slot = decode_slot(value)
        return PickTime(slot) if slot else None
    if kind == _CONFIRM:
        return Confirm(decode_slot(value))
    if kind == "bk":
        return BookingMenu(value)
    if kind == "cancel":
        return AskCancel(value)
    if kind == "cancelok":
        return ConfirmCancel(value)
    if kind == "move":
        return StartMove(value)
    return None
