"""The guided dialogue's steps: what it asks next and what it does once the customer
has decided, over the turn's `BookingDesk`.

`Steps` holds one turn's working state (the dialogue state, the desk, the reply intents so
far); `dialogue._Dialog` adds the reading of the customer's message on top. A step asks at
most one question, as the last reply of the turn, and the state remembers it as the open
`step`. Free days and times come from the desk (`slots_by_day`, one query for all the days
offered, the booking being moved counted as free); a booking, move or cancellation exists
only once the desk returned it, and only then is it said."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from salonbot.assistant.guided import options as opt
from salonbot.assistant.guided import replies as r
from salonbot.assistant.guided import visit
from salonbot.assistant.guided.visit import desk_codes, service_of, visit_code
from salonbot.booking.cutoffs import too_late
from salonbot.errors import (
    BookingLimitReached,
    BookingNotFound,
    ChangeTooLate,
    ClientBusy,
    InvalidInput,
    NotFound,
    SlotTaken,
    SlotUnavailable,
)

if TYPE_CHECKING:
    from salonbot.assistant.guided.message import GuidedMessage
    from salonbot.assistant.guided.state import GuidedState, Step
    from salonbot.assistant.parsing import When
    from salonbot.booking.availability import Slot
    from salonbot.booking.catalog import Master, Salon, Service
    from salonbot.booking.desk import BookingDesk
    from salonbot.booking.store import Booking

ROWS = 9  # list rows per page; the tenth is "later"
CONFIRM_MINUTES = 5  # the earliest time offered stays bookable this long after the offer
ANY = opt.ANY_MASTER


@dataclass
class Outcome:
    """What one step decided."""

    state: GuidedState
    replies: list[r.Reply] = field(default_factory=list)
    booking_code: str | None = None  # of a booking made this turn
    handoff: bool = False  # the customer asked for a person
    faq_only: bool = False  # answered a question about the salon, nothing else
    # The booking operations of the turn (name, arguments, result), kept with the reply
    # like the agent's tool calls.
    actions: list[dict[str, Any]] = field(default_factory=list)


class Steps:
    """The steps of one turn; `out` collects what they decide."""

    def __init__(self, state: GuidedState, message: GuidedMessage, desk: BookingDesk) -> None:
        self.st = state
        self.msg = message
        self.desk = desk
        self.salon: Salon = desk.salon
        self.now = desk.now  # salon-local
        self.out = Outcome(state=state)

    def say(self, reply: r.Reply) -> None:
        self.out.replies.append(reply)

    def notice(self, key: r.NoticeKey) -> None:
        self.say(r.Notice(key))

    def merge_when(self, when: When) -> None:
        """Take the day and time asked for; a day that has passed, is beyond the booking
        horizon or does not exist is said so (and not taken), the rest still is."""
        st = self.st
        today, last = self.now.date(), self.last_day()
        named_a_day = when.invalid or when.date is not None
        if named_a_day and st.master is None:
            st.master = ANY  # a day asked for: the days come before the masters
        if when.invalid:
            self.say(r.NoSuchDate())
        elif when.date is not None and when.date < today:
            self.say(r.DatePassed(when.date))
            st.forget("day", "start", "page")
        elif when.date is not None and when.date > last:
            self.say(r.BeyondHorizon(when.date, self.salon.booking_horizon_days))
            st.forget("day", "start", "page")
        elif when.date is not None:
            st.day, st.page, st.start = when.date, 0, None
        if when.earliest:
            st.earliest, st.start = True, None
        if when.time is not None:
            st.wanted, st.start = _minute(when.time), None
        if when.after is not None or when.before is not None:
            st.after = _minute(when.after) if when.after else None
            st.before = _minute(when.before) if when.before else None

    def last_day(self) -> dt.date:
        """The last day the salon takes bookings for."""
        return self.now.date() + dt.timedelta(days=self.salon.booking_horizon_days - 1)

    def does(self, master_code: str | None, service_code: str) -> bool:
        """The master does the service (every service of a visit's code)."""
        master = self.salon.masters.get(master_code or "")
        if master is None or service_of(self.salon, service_code) is None:
            return False
        return master in visit.masters_for(self.salon, service_code)

    # -- the booking steps ----------------------------------------------------------------

    def start_booking(self, service: str | None = None) -> None:
        self.st.clear()
        self.st.flow = "book"
        self.st.service = service
        self.advance()

    def advance(self) -> None:
        """Ask for the first thing the booking (or move) still needs."""
        st = self.st
        if not st.flow:
            self.main_menu()
            return
        service = service_of(self.salon, st.service)
        if service is None:
            self.show_services()
            return
        if st.master is None:
            masters = visit.masters_for(self.salon, service.code)
            if len(masters) > 1 and not st.day and not st.earliest:
                self.ask(r.ChooseMaster(service, tuple(masters[:ROWS])), "master")
                return
            st.master = ANY
        if st.master != ANY and not self.does(st.master, service.code):
            st.master = ANY
        if st.earliest and not st.day:
            self.offer_earliest(service)
            return
        if not st.day:
            self.show_days(self.now.date())
            return
        self.show_times(service)

    def offer_earliest(self, service: Service) -> None:
        """The first free time from now, for confirmation."""
        st = self.st
        st.earliest = False
        today = self.now.date()
        days = [today + dt.timedelta(days=i) for i in range((self.last_day() - today).days + 1)]
        free = self.free_by_day(service, days, 2)
        # Not a time the minimum notice closes while the customer reads the question.
        ready = self.now + dt.timedelta(minutes=self.salon.min_notice_minutes + CONFIRM_MINUTES)
        slots = [slot for day in sorted(free) for slot in free[day] if slot.starts_at >= ready]
        if not slots:
            self.show_days(today)
            return
        first = slots[0]
        st.day = first.starts_at.astimezone(self.salon.tz).date()
        st.start, st.slot_master = first.starts_at, first.master_code
        self.confirm()

    def show_services(self) -> None:
        st = self.st
        services = list(self.salon.services.values())
        candidates, st.candidates = st.candidates, None
        if candidates:
            services = [s for s in services if s.code in candidates]
        master = self.salon.masters.get(st.master or "")
        if master is not None:
            services = [s for s in services if master.does(s)] or services
        self.ask(r.ChooseService(tuple(services[: ROWS + 1])), "service")

    def chosen_master(self) -> Master | None:
        """The master the customer chose (None: any master)."""
        return self.salon.masters.get(self.st.master or "")

    def free_by_day(
        self, service: Service, days: list[dt.date], limit_days: int | None = None
    ) -> dict[dt.date, list[Slot]]:
        """Free slots per day for the choices so far (the booking being moved is free)."""
        master = self.st.master
        return self.desk.slots_by_day(
            desk_codes(service.code),
            days,
            master if master != ANY and self.does(master, service.code) else None,
            exclude_booking=self.st.booking_id,
            limit_days=limit_days,
        )

    def show_days(self, first: dt.date, note: r.Reply | None = None) -> None:
        """The days with free times from `first`. Nothing free is said only as far as it
        is true: from `first` to the horizon's end, for the master chosen; then the days
        from today, or with any master, are offered before giving up."""
        st = self.st
        service = service_of(self.salon, st.service)
        assert service is not None
        today, last = self.now.date(), self.last_day()
        first = max(first, today)
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        free = self.free_by_day(service, days, ROWS + 1) if days else {}
        st.forget("day", "start", "page")
        if note is not None:
            self.say(note)
        if not free:
            master = self.chosen_master() if st.master != ANY else None
            if first > last:  # past the horizon's last day: from today then
                self.show_days(today)
                return
            self.say(r.NoFreeDays(service, master, first, last))
            if first > today:
                self.show_days(today)
                return
            if master is not None:
                st.master = ANY
                self.show_days(today)
                return
            st.clear()
            self.main_menu()
            return
        shown = sorted(free)[:ROWS]
        later = shown[-1] + dt.timedelta(days=1) if len(free) > ROWS else None
        offers = tuple(r.DayOffer(day, len(free[day])) for day in shown)
        self.ask(r.ChooseDay(service, self.chosen_master(), offers, later), "day")

    def show_times(self, service: Service) -> None:
        st = self.st
        day = st.day
        assert day is not None
        slots = self.free_by_day(service, [day]).get(day, [])
        master = self.chosen_master() if st.master != ANY else None
        if not slots:
            self.show_days(day + dt.timedelta(days=1), r.DayFull(day, service, master))
            return
        wanted, st.wanted = st.wanted, None
        if wanted:
            exact = [s for s in slots if _minute(s.starts_at.time()) == wanted]
            if exact:
                st.start, st.slot_master = exact[0].starts_at, exact[0].master_code
                self.confirm()
                return
            target = dt.datetime.combine(day, wanted, tzinfo=self.salon.tz)
            nearest = sorted(slots, key=lambda s: abs((s.starts_at - target).total_seconds()))
            self.say(r.TimeNotFree(wanted, day, service, master))
            self.ask_times(service, day, sorted(nearest[:ROWS], key=lambda s: s.starts_at), None)
            return
        after, before = st.after, st.before
        if after or before:
            in_part = [
                s
                for s in slots
                if (not after or _minute(s.starts_at.time()) >= after)
                and (not before or _minute(s.starts_at.time()) < before)
            ]
            if in_part:
                slots = in_part
            else:
                self.notice("no_time_in_part")
        page = st.page
        chunk = slots[page * ROWS : (page + 1) * ROWS]
        if not chunk:
            page, chunk = 0, slots[:ROWS]
        more = page + 1 if len(slots) > (page + 1) * ROWS else None
        self.ask_times(service, day, chunk, more)

    def ask_times(
        self, service: Service, day: dt.date, slots: list[Slot], more: int | None
    ) -> None:
        master = None if self.st.master == ANY else self.chosen_master()
        self.ask(r.ChooseTime(service, master, day, tuple(slots), more), "time")

    def offered_slot(self) -> opt.SlotRef | None:
        """The slot the confirmation asks about, as its confirm button names it."""
        start = self.st.start
        return opt.SlotRef(start, self.st.slot_master or "") if start else None

    def confirm(self) -> None:
        st = self.st
        slot = self.offered_slot()
        assert slot is not None
        service = service_of(self.salon, st.service)
        assert service is not None
        master = self.salon.masters.get(st.slot_master or "")
        self.ask(r.ConfirmSlot(service, slot, master, moving=st.flow == "move"), "confirm")

    def commit(self) -> None:
        """Book (or move) what the customer confirmed; only the desk's answer counts."""
        st = self.st
        start, service = st.start, st.service
        if not start or not service:
            self.notice("expired")
            self.main_menu()
            return
        moving = st.flow == "move"
        arguments: dict[str, Any] = {"service": service, "start": start.isoformat()}
        try:
            if moving:
                code = str(st.booking)
                booking = self.desk.move(code, start, st.slot_master or None)
                self.record("move", {"code": code, "start": start.isoformat()}, booking)
                self.say(r.Moved(booking))
            else:
                master = st.master
                booking = self.desk.book(
                    desk_codes(service),
                    start,
                    None if master in (None, ANY) else master,
                    client_name=self.msg.contact_name,
                    source_message_id=self.msg.message_id,
                )
                self.record("book", arguments, booking)
                self.say(r.Booked(booking))
                self.out.booking_code = booking.code
        except ChangeTooLate:
            self.late_change()
            return
        except BookingLimitReached as exc:
            # No other time would help: her bookings, each with move and cancel.
            self.record("book", arguments, None, str(exc))
            self.say(r.BookingLimit(exc.limit))
            self.my_bookings()
            return
        except (SlotTaken, SlotUnavailable) as exc:
            if st.booking:
                arguments["booking"] = st.booking
            self.record("move" if moving else "book", arguments, None, str(exc))
            # Say why, truly: another booking took it, the customer has one then, or the
            # time is no longer bookable (the minimum notice passed since it was offered).
            if isinstance(exc, ClientBusy):
                self.notice("client_busy")
            else:
                self.notice("slot_taken" if isinstance(exc, SlotTaken) else "slot_unavailable")
            st.day, st.page = start.astimezone(self.salon.tz).date(), 0
            st.forget("start", "wanted", "after", "before")
            shown = service_of(self.salon, service)
            if shown is None:
                st.clear()
                self.main_menu()
                return
            self.show_times(shown)
            return
        except (BookingNotFound, InvalidInput, NotFound):
            self.notice("not_changeable")
            st.clear()
            return
        st.clear()

    def decline(self) -> None:
        self.st.clear()
        self.notice("declined")

    # -- bookings the customer has --------------------------------------------------------

    def my_bookings(self) -> None:
        bookings = self.desk.upcoming()
        self.st.clear()
        if not bookings:
            self.notice("no_bookings")
            self.main_menu()
            return
        self.ask(r.YourBookings(tuple(bookings)), "bookings")

    def find(self, code: str) -> Booking | None:
        """The customer's booking that can still change; else says so and lists theirs."""
        try:
            booking: Booking | None = self.desk.find(code)
        except (BookingNotFound, InvalidInput):
            booking = None
        if booking is None or booking.status != "confirmed" or booking.starts_at <= self.now:
            self.say(r.BookingUnknown(code))
            self.my_bookings()
            return None
        return booking

    def booking_actions(self, code: str) -> None:
        booking = self.find(code)
        if booking is None:
            return
        self.st.clear()
        self.ask(r.BookingActions(booking), "booking")

    def find_booking_for(
        self, action: Literal["cancel", "move"], code: str | None, when: When | None = None
    ) -> None:
        """Which booking "cancel"/"move" is about: the code given, the only one, or a pick."""
        if code is None:
            bookings = self.desk.upcoming()
            if not bookings:
                self.st.clear()
                self.notice("no_bookings")
                self.main_menu()
                return
            if len(bookings) > 1:
                self.st.clear()
                self.ask(r.WhichBooking(action, tuple(bookings[: ROWS + 1])), "bookings")
                return
            code = bookings[0].code
        if action == "cancel":
            self.ask_cancel(code)
        else:
            self.start_move(code, when)

    def ask_cancel(self, code: str) -> None:
        booking = self.find(code)
        if booking is None:
            return
        if too_late(self.salon, "cancel", booking.starts_at, self.now):
            self.late_change()
            return
        self.st.clear()
        self.st.booking = booking.code
        self.ask(r.AskToCancel(booking), "cancel_confirm")

    def cancel(self, code: str) -> None:
        try:
            booking = self.desk.cancel(code)
        except ChangeTooLate:
            self.late_change()
            return
        except (BookingNotFound, InvalidInput):
            self.st.clear()
            self.notice("not_changeable")
            return
        self.record("cancel", {"code": code}, booking)
        self.st.clear()
        self.say(r.Cancelled(booking))

    def start_move(self, code: str, when: When | None = None) -> None:
        booking = self.find(code)
        if booking is None:
            return
        if too_late(self.salon, "move", booking.starts_at, self.now):
            self.late_change()
            return
        st = self.st
        st.clear()
        st.flow, st.booking, st.booking_id = "move", booking.code, booking.id
        codes = [item.service_code for item in booking.items] or [booking.service_code]
        st.service, st.master = visit_code(codes), booking.master_code
        if when is not None:
            self.merge_when(when)
            if when.same_time and when.time is None:
                local = booking.starts_at.astimezone(self.salon.tz)
                st.wanted = _minute(local.time())
        self.advance()

    # -- other answers --------------------------------------------------------------------

    def offer_person(self) -> None:
        """What the flow cannot do: a person offered (a tap hands off), or the menu."""
        self.st.clear()
        self.ask(r.OfferPerson(), "menu")

    def hand_off(self) -> None:
        self.st.clear()
        self.out.handoff = True
        self.notice("handoff")

    def late_change(self) -> None:
        """Inside the salon's cut-off: the customer cannot change the visit, staff can."""
        self.st.clear()
        self.out.handoff = True
        self.notice("change_cutoff")

    def main_menu(self) -> None:
        self.ask(r.MainMenu(self.desk.last_visit()), self.st.step or "menu")

    def repeat_last(self, when: When | None = None) -> None:
        """ "Как в прошлый раз": a new booking of the last visit's services, with its
        master when that master still does them (else any master)."""
        last = self.desk.last_visit()
        if last is None:
            self.st.clear()
            self.notice("no_last_visit")
            self.start_booking()
            return
        st = self.st
        st.clear()
        st.flow = "book"
        st.service = visit_code([i.service_code for i in last.items] or [last.service_code])
        if service_of(self.salon, st.service) is None:  # no longer offered
            st.service = None
        st.master = last.master_code if self.does(last.master_code, st.service or "") else ANY
        if when is not None:
            self.merge_when(when)
        self.advance()

    def ask(self, question: r.Question, step: Step) -> None:
        """Ask `question`; the state remembers it as the open `step` (its options are
        remembered once rendered)."""
        self.st.step = step
        self.say(question)

    def record(
        self, name: str, arguments: dict[str, Any], booking: Booking | None, error: str = ""
    ) -> None:
        result: dict[str, Any] = (
            {"ok": True, "code": booking.code} if booking else {"ok": False, "error": error}
        )
        self.out.actions.append({"name": name, "arguments": arguments, "result": result})


def _minute(value: dt.time) -> dt.time:
    """A time of day to the minute, as the customer can name it."""
    return dt.time(value.hour, value.minute)
