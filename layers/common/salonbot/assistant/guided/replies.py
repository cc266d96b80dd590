"""What the guided dialogue wants to say, before it is words: the reply intents a step
returns and `render` turns into WhatsApp messages in the customer's language.

Statements carry the facts a sentence needs (a booking, a day); questions carry what
the customer may pick from, already paged and cut to what one WhatsApp list shows. Keeping
them free of text lets the dialogue be tested on what it offers, and the wording on how
it reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.assistant.guided.options import SlotRef
    from salonbot.booking.availability import Slot
    from salonbot.booking.catalog import Master, Service
    from salonbot.booking.store import Booking

# Sentences without facts of their own: a key of the text catalogue.
NoticeKey = Literal[
    "unknown",  # a first message the flow cannot read
    "unknown_step",  # a message mid-dialogue it cannot read
    "media",  # voice, a picture, a file without words
    "expired",  # a tap or a number under a question no longer open
    "confirm_stale",  # a confirm button under an older confirmation
    "thanks",
    "no_time_in_part",  # nothing free in the part of the day asked for
    "slot_taken",  # the slot went between the offer and the confirmation
    "slot_unavailable",  # no longer bookable (the notice passed) since it was offered
    "client_busy",  # the customer has another booking at that time
    "declined",
    "no_bookings",
    "not_changeable",  # the store refused to move or cancel
    "change_cutoff",  # too close to the visit for the customer to change it: staff will
    "no_last_visit",  # "как в прошлый раз" from a customer with no visit yet
    "handoff",
    "confirm_again",  # an answer to the confirmation that is neither yes nor no
]


# -- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    key: NoticeKey


@dataclass(frozen=True)
class Greeting:
    pass


@dataclass(frozen=True)
class FaqReply:
    topics: tuple[str, ...]  # parsing's FAQ intents
    services: tuple[str, ...] = ()  # the services a price question named


@dataclass(frozen=True)
class MasterNotForService:
    master: Master
    service: Service


@dataclass(frozen=True)
class NoFreeDays:
    """Nothing free for `service` (with `master`, None: any) on any day from `first` to
    `last`, the end of the booking horizon. Said only once the desk found nothing."""

    service: Service
    master: Master | None
    first: dt.date
    last: dt.date


@dataclass(frozen=True)
class DayFull:
    """Nothing free for `service` (with `master`, None: any) on `day`."""

    day: dt.date
    service: Service
    master: Master | None


@dataclass(frozen=True)
class TimeNotFree:
    """`time` on `day` is not free for `service` (with `master`, None: any)."""

    time: dt.time
    day: dt.date
    service: Service
    master: Master | None


@dataclass(frozen=True)
class DatePassed:
    """The day asked for is before today."""

    day: dt.date


@dataclass(frozen=True)
class BeyondHorizon:
    """The day asked for is after the last day the salon books (`days` ahead)."""

    day: dt.date
    days: int


@dataclass(frozen=True)
class NoSuchDate:
    """The customer named a date that does not exist ("31 февраля")."""


@dataclass(frozen=True)
class NotOffered:
    """The salon does not offer what the customer named (`what`, their word)."""

    what: str


@dataclass(frozen=True)
class OfferPerson:
    """What the flow cannot do (several people at once, a complaint): a person offered."""


@dataclass(frozen=True)
class BookingLimit:
    """The customer has as many upcoming bookings as the salon allows."""

    limit: int


@dataclass(frozen=True)
class BookingUnknown:
    code: str


@dataclass(frozen=True)
class Booked:
    booking: Booking


@dataclass(frozen=True)
class Moved:
    booking: Booking


@dataclass(frozen=True)
class Cancelled:
    booking: Booking


# -- questions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MainMenu:
    last_visit: Booking | None = None  # offered as a one-tap repeat


@dataclass(frozen=True)
class ChooseService:
    services: tuple[Service, ...]


@dataclass(frozen=True)
class ChooseMaster:
    service: Service
    masters: tuple[Master, ...]  # "any master" comes first without being listed here


@dataclass(frozen=True)
class DayOffer:
    day: dt.date
    free: int  # how many times are free that day


@dataclass(frozen=True)
class ChooseDay:
    service: Service
    master: Master | None  # the master chosen, None for any
    days: tuple[DayOffer, ...]
    later: dt.date | None  # the first day of the next page, when there are more


@dataclass(frozen=True)
class ChooseTime:
    service: Service
    master: Master | None  # the master chosen, None for any
    day: dt.date
    slots: tuple[Slot, ...]
    later_page: int | None  # the next page of the day's times; None: offer another day


@dataclass(frozen=True)
class ConfirmSlot:
    service: Service
    slot: SlotRef
    master: Master | None  # the slot's master (None: unknown to the salon any more)
    moving: bool  # a move of an existing booking, not a new one


@dataclass(frozen=True)
class YourBookings:
    bookings: tuple[Booking, ...]  # all listed in the text; the first ten can be picked


@dataclass(frozen=True)
class WhichBooking:
    action: Literal["cancel", "move"]
    bookings: tuple[Booking, ...]


@dataclass(frozen=True)
class BookingActions:
    booking: Booking


@dataclass(frozen=True)
class AskToCancel:
    booking: Booking


Statement = (
    Notice
    | Greeting
    | FaqReply
    | MasterNotForService
    | NoFreeDays
    | DayFull
    | TimeNotFree
    | DatePassed
    | BeyondHorizon
    | NoSuchDate
    | NotOffered
    | BookingLimit
    | BookingUnknown
    | Booked
    | Moved
    | Cancelled
)
Question = (
    MainMenu
    | OfferPerson
    | ChooseService
    | ChooseMaster
    | ChooseDay
    | ChooseTime
    | ConfirmSlot
    | YourBookings
    | WhichBooking
    | BookingActions
    | AskToCancel
)
Reply = Statement | Question
