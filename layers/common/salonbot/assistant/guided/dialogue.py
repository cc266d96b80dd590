"""The guided dialogue: one customer message, the state it left off in and the salon's
booking desk in; the new state, the reply intents and what was booked out.

Booking: service (with prices) -> master ("any master" first) -> day -> time -> confirm
-> booking code. Free text fills in as much as it can ("Хочу на маникюр к Анне завтра в
15:00" goes straight to the confirmation), taps come back as option ids, and channels
without interactive messages answer with an option's number or its title. The customer's
bookings can be listed, moved and cancelled the same way.

The dialogue knows no database and no words: every read and effect goes through the
`BookingDesk` (the caller's transaction, in production), and replies are intents that
`render` words. This module reads the message (a tap, a number, a title, free text) in
the light of the open question; `steps` asks the next question and does what was decided."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from salonbot.assistant.guided import options as opt
from salonbot.assistant.guided import replies as r
from salonbot.assistant.guided.steps import ANY, Outcome, Steps
from salonbot.assistant.guided.visit import service_of, visit_code
from salonbot.assistant.parsing import (
    ADDRESS,
    BOOK,
    CANCEL,
    FAQ_INTENTS,
    FOLLOW_UP,
    GREETING,
    HOURS,
    HUMAN,
    MENU,
    MOVE,
    MY_BOOKINGS,
    NO,
    PRICES,
    QUIT,
    REPEAT,
    THANKS,
    UNSERVABLE,
    YES,
    ParsedMessage,
    normalize,
    parse_message,
)

if TYPE_CHECKING:
    from salonbot.assistant.guided.message import GuidedMessage
    from salonbot.assistant.guided.state import GuidedState
    from salonbot.booking.desk import BookingDesk

__all__ = ["Outcome", "step"]

_BOOKING_WORDS = re.compile(r"запис|визит|booking|appointment|reservation")


def step(
    state: GuidedState, message: GuidedMessage, desk: BookingDesk, *, expired: bool = False
) -> Outcome:
    """Answer one message. `expired`: the customer's previous dialogue was dropped, so a
    tap or a number answers a question no longer open. `state` itself is left as it was."""
    dialog = _Dialog(state.copy_for_step(), message, desk)
    dialog.run(expired=expired)
    return dialog.out


class _Dialog(Steps):
    """One step: reads the message, changes the state, collects reply intents."""

    # -- entry ----------------------------------------------------------------------------

    def run(self, *, expired: bool) -> None:
        choice = self.choice()
        answered_old_question = self.msg.tapped is not None or self.msg.number is not None
        if (
            expired
            and answered_old_question
            and not isinstance(choice, opt.MenuItem | opt.PickService)
        ):
            self.notice("expired")
            self.main_menu()
            return
        if choice is not None:
            self.on_choice(choice)
            return
        if self.msg.is_media_only:
            self.notice("media")
            self.main_menu()
            return
        self.on_text(parse_message(self.msg.text, self.salon, self.now))

    def choice(self) -> opt.Choice | None:
        """The option the customer picked: a tap, an option's number, or its exact title."""
        tapped = opt.decode(self.msg.tapped or "")
        if tapped is not None:
            return tapped
        options = self.st.options
        number = self.msg.number
        if number is not None and 1 <= number <= len(options):
            return _offered(options[number - 1][0])
        typed = normalize(self.msg.text).rstrip(".!")
        for option_id, title in options:
            if typed and normalize(title) == typed:
                return _offered(option_id)
        return None

    # -- taps -----------------------------------------------------------------------------

    def on_choice(self, choice: opt.Choice) -> None:
        st = self.st
        match choice:
            case opt.MenuItem(item):
                self.on_menu(item)
            case opt.PickService(code) if st.flow == "book" and code in self.salon.services:
                # The day, time or master already given stay (the service had to be asked).
                st.service, st.candidates = code, None
                if st.master not in (None, ANY) and not self.does(st.master, code):
                    st.master = None
                self.advance()
            case opt.PickService(code):
                self.start_booking(service=code)
            case opt.PickMaster(code) if st.service:
                st.master = code
                self.advance()
            case opt.PickDay(day) if st.service:
                st.day, st.page = day, 0
                self.advance()
            case opt.LaterDays(first) if st.service:
                self.show_days(first)
            case opt.LaterTimes(page) if st.day:
                st.page = page
                self.advance()
            case opt.OtherDay() if st.service:
                st.forget("day", "start", "wanted", "page", "after", "before")
                self.advance()
            case opt.PickTime(slot) if st.service:
                st.start, st.slot_master = slot.start, slot.master
                self.confirm()
            case opt.Confirm(slot) if st.start:
                # A confirm button names the slot it confirms: a tap under an older
                # confirmation (another time asked for since) must not book the newer one.
                if slot == self.offered_slot():
                    self.commit()
                else:
                    self.notice("confirm_stale")
                    self.confirm()
            case opt.Decline():
                self.decline()
            case opt.BookingMenu(code):
                self.booking_actions(code)
            case opt.AskCancel(code):
                self.ask_cancel(code)
            case opt.ConfirmCancel(code):
                self.cancel(code)
            case opt.StartMove(code):
                self.start_move(code)
            case _:
                self.notice("expired")
                self.main_menu()

    def on_menu(self, item: str) -> None:
        if item == "book":
            self.start_booking()
        elif item == "mine":
            self.my_bookings()
        elif item == "prices":
            self.say(r.FaqReply((PRICES,)))
        elif item == "address":
            self.say(r.FaqReply((ADDRESS, HOURS)))
        elif item == "human":
            self.hand_off()
        elif item == "repeat":
            self.repeat_last()
        else:
            self.main_menu()

    # -- free text ------------------------------------------------------------------------

    def on_text(self, parsed: ParsedMessage) -> None:
        st = self.st
        intents = parsed.intents
        quoted = self.msg.quoted_booking
        if quoted and not parsed.code and intents & {CANCEL, MOVE} and HUMAN not in intents:
            # "отменить" / "перенести" quoting our confirmation: that booking, the
            # customer's own rules and the confirm step (a cancel is asked first).
            self.find_booking_for("cancel" if CANCEL in intents else "move", quoted, parsed.when)
            return
        at_confirm = st.step in ("confirm", "cancel_confirm")
        if at_confirm and YES in intents and not intents & {CANCEL, MOVE}:
            if st.step == "confirm":
                self.commit()
            else:
                self.cancel(str(st.booking))
            return
        if at_confirm and (
            NO in intents
            or QUIT in intents
            or (CANCEL in intents and not _BOOKING_WORDS.search(self.msg.text))
        ):
            self.decline()
            return
        asked_booking = bool(parsed.services or parsed.master or not parsed.when.empty)
        if st.step == "confirm" and not asked_booking and not intents - {BOOK, GREETING}:
            # Neither yes nor no, nor another time: the same question again.
            self.notice("confirm_again")
            self.confirm()
            return
        if HUMAN in intents:
            self.hand_off()
        elif QUIT in intents and not asked_booking:
            self.decline()
        elif UNSERVABLE in intents:
            self.offer_person()
        elif CANCEL in intents:
            self.find_booking_for("cancel", parsed.code)
        elif MOVE in intents:
            self.find_booking_for("move", parsed.code, parsed.when)
        elif MY_BOOKINGS in intents:
            self.my_bookings()
        elif REPEAT in intents:
            self.repeat_last(parsed.when)
        elif intents & set(FAQ_INTENTS) and BOOK not in intents and _only_a_day(parsed, intents):
            topics = tuple(t for t in FAQ_INTENTS if t in intents)
            # "а сколько он стоит?" in the middle of a booking: the service being booked.
            services = parsed.services or ((st.service,) if st.service and st.flow else ())
            self.say(r.FaqReply(topics, services))
            self.reask()
        elif FOLLOW_UP in intents and parsed.services and not parsed.master:
            # "а педикюр?" / "and with gel?": a question about it, not a booking yet.
            self.say(r.FaqReply((PRICES,), parsed.services))
            self.reask()
        elif parsed.other_service and not parsed.master:
            self.say(r.NotOffered(parsed.other_service))
            self.start_booking()
        elif parsed.services or parsed.master or not parsed.when.empty or BOOK in intents:
            self.fill(parsed)
        elif parsed.any_master and st.step == "master":
            st.master = ANY
            self.advance()
        elif THANKS in intents:
            self.notice("thanks")
        elif GREETING in intents or MENU in intents or not st.step:
            if GREETING in intents:
                self.say(r.Greeting())
            elif not intents - {YES, NO}:  # a "да" or "👍" that answers no question
                self.notice("unknown")
            st.clear()
            self.main_menu()
        else:
            self.notice("unknown_step")
            self.advance()

    def reask(self) -> None:
        """After an answer to a question: the open booking question again, if any (else
        the turn was a question about the salon only)."""
        st = self.st
        if st.step == "confirm" and st.start:
            self.confirm()
        elif st.flow and st.step in ("service", "master", "day", "time"):
            self.advance()
        else:
            self.out.faq_only = True

    def fill(self, parsed: ParsedMessage) -> None:
        """Merge what the text named into the booking (or the move) being made."""
        st = self.st
        moving = st.flow == "move" and not parsed.services
        if not moving and st.flow != "book":
            st.clear()
            st.flow = "book"
        if parsed.visit and not moving:
            # Several services for one visit ("маникюр и педикюр"): one code for the steps.
            code = visit_code(parsed.visit)
            if code != st.service:
                st.forget("service", "day", "start", "page", "candidates")
                st.service = code
                if st.master not in (None, ANY) and not self.does(st.master, code):
                    st.master = None
        elif parsed.services and not moving:
            if parsed.service is None:
                st.service = None
                st.candidates = list(parsed.services)
            elif parsed.service != st.service:
                # Another service: the day and time asked for still hold.
                st.forget("service", "start", "page", "candidates")
                st.service = parsed.service
                if st.master not in (None, ANY) and not self.does(st.master, parsed.service):
                    st.master = None
        if parsed.master and not moving:
            service = service_of(self.salon, st.service)
            if service and not self.does(parsed.master, service.code):
                self.say(r.MasterNotForService(self.salon.masters[parsed.master], service))
            else:
                st.master = parsed.master
        elif parsed.any_master and not moving:
            st.master = ANY
        self.merge_when(parsed.when)
        self.advance()


def _only_a_day(parsed: ParsedMessage, intents: frozenset[str]) -> bool:
    """A question, not a booking: no day or time at all, or, about the hours, a day or a
    part of it without a service ("до скольки работаете в субботу?", "а в понедельник с
    утра открыты?")."""
    when = parsed.when
    if when.empty:
        return True
    return HOURS in intents and when.time is None and not when.earliest and not parsed.services


def _offered(option_id: str) -> opt.Choice:
    """The choice of an option the state remembers offering."""
    return opt.decode(option_id) or opt.Unknown(option_id)
