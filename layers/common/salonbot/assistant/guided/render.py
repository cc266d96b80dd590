"""Reply intents into WhatsApp messages: the guided flow's words, in one language.

Every sentence, price, duration, day and time comes from that language's text catalogue
(`salonbot.texts`); prices are written as the salon writes its currency. Statements
become text messages; questions become an interactive list or reply buttons whose option
ids come from the option codec. On a channel without interactive messages (the HTTP API,
the terminal chat) the body asks for a number, and the options are numbered when the
message is sent. `Rendered.options` are the last question's options as the state
remembers them, so a typed number or title answers it next turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from salonbot.assistant.guided import options as opt
from salonbot.assistant.guided import replies as r
from salonbot.outbound.waitlist import join_id
from salonbot.texts import phrases
from salonbot.whatsapp.outgoing import (
    LIST_ROWS_MAX,
    ButtonsMessage,
    ListMessage,
    Option,
    TextMessage,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from salonbot.assistant.faq import FaqAnswers
    from salonbot.booking.catalog import Master, Salon, Service
    from salonbot.booking.store import Booking
    from salonbot.texts import Catalogue

Message = TextMessage | ListMessage | ButtonsMessage


@dataclass
class Rendered:
    messages: list[Message] = field(default_factory=list)
    # The last question's options as (id, title); None when the replies asked nothing.
    options: list[tuple[str, str]] | None = None


class Renderer:
    """Words for one turn: the salon, the customer's language and the salon-local now
    ("today", "tomorrow")."""

    def __init__(
        self,
        salon: Salon,
        language: str,
        now: dt.datetime,
        faq: FaqAnswers,
        *,
        interactive: bool = True,
    ) -> None:
        self.salon = salon
        self.lang = language
        self.t: Catalogue = phrases(language)
        self.today = now.date()
        self.faq = faq
        self.interactive = interactive

    def render(self, replies: Iterable[r.Reply]) -> Rendered:
        out = Rendered()
        for reply in replies:
            message = self.message(reply)
            out.messages.append(message)
            if not isinstance(message, TextMessage):
                out.options = [(o.id, o.title) for o in message.options]
        return out

    def message(self, reply: r.Reply) -> Message:
        t = self.t
        match reply:
            case r.Notice(key):
                return self.text(t[key])
            case r.Greeting():
                return self.text(t["greeting"].format(salon=self.salon.name))
            case r.FaqReply(topics, services):
                return self.text(self.faq.answer(self.salon, topics, self.lang, services))
            case r.MasterNotForService(master, service):
                return self.text(
                    t["master_not_for_service"].format(
                        master=self.master_name(master), service=service.name(self.lang)
                    )
                )
            case r.NoFreeDays(service, master, first, _last) if first <= self.today:
                return self.text(
                    t["no_days"].format(
                        service=service.name(self.lang),
                        master=self.with_master(master),
                        days=self.salon.booking_horizon_days,
                    )
                )
            case r.NoFreeDays(service, master, first, last):
                return self.text(
                    t["no_days_from"].format(
                        service=service.name(self.lang),
                        master=self.with_master(master),
                        first=t.day_month(first),
                        last=t.day_month(last),
                    )
                )
            case r.DayFull(day, service, master):
                full = t["day_full"].format(
                    day=self.day_title(day, mid_sentence=True),
                    service=service.name(self.lang),
                    master=self.with_master(master),
                )
                if not self.interactive:
                    return self.text(full)
                # The waitlist's own button, answered before the flow (outbound.buttons).
                join = join_id(service.code, day, master.code if master else None)
                return ButtonsMessage(
                    body=full, options=[Option(id=join, title=t["waitlist_join"])]
                )
            case r.TimeNotFree(time):
                return self.text(t["time_not_free"].format(time=t.clock(time)))
            case r.DatePassed(day):
                return self.text(t["date_passed"].format(day=t.day_month(day)))
            case r.BeyondHorizon(day, days):
                return self.text(t["beyond_horizon"].format(day=t.day_month(day), days=days))
            case r.NoSuchDate():
                return self.text(t["no_such_date"])
            case r.NotOffered(what):
                return self.text(t["not_offered"].format(what=what))
            case r.BookingLimit(limit):
                return self.text(t["booking_limit"].format(limit=limit))
            case r.BookingUnknown(code):
                return self.text(t["booking_not_found"].format(code=code))
            case r.Booked(booking):
                return self.text(self.describe(t["booked"], booking))
            case r.Moved(booking):
                return self.text(self.describe(t["moved"], booking))
            case r.Cancelled(booking):
                return self.text(t["cancelled"].format(booking=self.line(booking)))
        return self.question(reply)

    def question(self, reply: r.Reply) -> Message:
        t = self.t
        match reply:
            case r.MainMenu(last):
                return self.ask_list(t["menu"], t["menu_button"], self.menu(last))
            case r.OfferPerson():
                buttons = [
                    _option(opt.MenuItem("human"), t["menu_human"]),
                    _option(opt.MenuItem(""), t["action_menu"]),
                ]
                return self.ask_buttons(t["offer_person"], buttons)
            case r.ChooseService(services):
                rows = [
                    _option(
                        opt.PickService(s.code),
                        s.name(self.lang),
                        f"{self.price(s)}, {t.duration(s.duration_minutes)}",
                    )
                    for s in services
                ]
                return self.ask_list(t["choose_service"], t["services_button"], rows)
            case r.ChooseMaster(service, masters):
                rows = [_option(opt.PickMaster(opt.ANY_MASTER), t["any_master"])]
                rows += [_option(opt.PickMaster(m.code), self.master_name(m)) for m in masters]
                body = t["choose_master"].format(service=service.name(self.lang))
                return self.ask_list(body, t["masters_button"], rows)
            case r.ChooseDay(service, master, days, later):
                rows = [
                    _option(
                        opt.PickDay(d.day),
                        self.day_title(d.day),
                        t["free_count"].format(count=d.free),
                    )
                    for d in days
                ]
                if later is not None:
                    rows.append(_option(opt.LaterDays(later), t["later_days"]))
                body = t["choose_day"].format(
                    service=service.name(self.lang), master=self.with_master(master)
                )
                return self.ask_list(body, t["days_button"], rows)
            case r.ChooseTime(service, master, day, slots, later_page):
                rows = [
                    _option(
                        opt.PickTime(opt.SlotRef(s.starts_at, s.master_code)),
                        t.clock(s.starts_at),
                        self.named(s.master_code, s.master_name) if master is None else None,
                    )
                    for s in slots
                ]
                rows.append(
                    _option(opt.LaterTimes(later_page), t["later_times"])
                    if later_page is not None
                    else _option(opt.OtherDay(), t["other_day"])
                )
                body = t["choose_time"].format(
                    service=service.name(self.lang),
                    master=self.with_master(master),
                    day=self.day_title(day, mid_sentence=True),
                )
                return self.ask_list(body, t["times_button"], rows)
            case r.ConfirmSlot(service, slot, master, moving):
                master_name = self.master_name(master) if master else "—"
                when = self.when(slot.start)
                if moving:
                    body = t["move_confirm"].format(
                        service=service.name(self.lang), when=when, master=master_name
                    )
                else:
                    body = t["confirm"].format(
                        service=service.name(self.lang),
                        when=when,
                        master=master_name,
                        price=self.price(service),
                    )
                buttons = [
                    _option(opt.Confirm(slot), t["confirm_yes"]),
                    _option(opt.OtherDay(), t["confirm_other"]),
                    _option(opt.Decline(), t["move_no" if moving else "confirm_no"]),
                ]
                return self.ask_buttons(body, buttons)
            case r.YourBookings(bookings):
                # Each booking once: a row for each of the first ten, a line for the rest.
                lines = [t["my_bookings"], *(self.line(b) for b in bookings[LIST_ROWS_MAX:])]
                rows = [
                    _option(opt.BookingMenu(b.code), self.when(b.starts_at), self.detail(b))
                    for b in bookings[:LIST_ROWS_MAX]
                ]
                return self.ask_list("\n".join(lines), t["bookings_button"], rows)
            case r.WhichBooking(action, bookings):
                rows = [
                    _option(
                        opt.AskCancel(b.code) if action == "cancel" else opt.StartMove(b.code),
                        self.when(b.starts_at),
                        self.detail(b),
                    )
                    for b in bookings
                ]
                body = t["which_cancel" if action == "cancel" else "which_move"]
                return self.ask_list(body, t["bookings_button"], rows)
            case r.BookingActions(booking):
                buttons = [
                    _option(opt.StartMove(booking.code), t["action_move"]),
                    _option(opt.AskCancel(booking.code), t["action_cancel"]),
                    _option(opt.MenuItem(""), t["action_menu"]),
                ]
                body = t["booking_actions"].format(booking=self.line(booking))
                return self.ask_buttons(body, buttons)
            case r.AskToCancel(booking):
                buttons = [
                    _option(opt.ConfirmCancel(booking.code), t["cancel_yes"]),
                    _option(opt.Decline(), t["cancel_no"]),
                ]
                body = t["cancel_confirm"].format(booking=self.line(booking))
                return self.ask_buttons(body, buttons)
        raise TypeError(f"not a guided reply: {reply!r}")

    # -- pieces ---------------------------------------------------------------------------

    def menu(self, last: Booking | None = None) -> list[Option]:
        t = self.t
        items = (
            ("book", "menu_book"),
            ("mine", "menu_mine"),
            ("prices", "menu_prices"),
            ("address", "menu_address"),
            ("human", "menu_human"),
        )
        rows = [_option(opt.MenuItem(item), t[key]) for item, key in items]
        if last is not None:  # one tap books the last visit's services with its master
            about = f"{self.service_name(last)}, {last.master_name}"
            rows.insert(0, _option(opt.MenuItem("repeat"), t["menu_repeat"], about))
        return rows

    def text(self, body: str) -> TextMessage:
        return TextMessage(body=body)

    def body(self, body: str) -> str:
        return body if self.interactive else f"{body}\n{self.t['number_hint']}"

    def ask_list(self, body: str, button: str, options: list[Option]) -> ListMessage:
        return ListMessage(body=self.body(body), button=button, options=options)

    def ask_buttons(self, body: str, options: list[Option]) -> ButtonsMessage:
        return ButtonsMessage(body=self.body(body), options=options)

    def price(self, service: Service) -> str:
        return phrases(self.salon.language).money(service.price, self.salon.currency)

    def day_title(self, day: dt.date, *, mid_sentence: bool = False) -> str:
        """ "Сегодня, пн 07.01", "Завтра, вт 08.01", "Ср 09.01" (inside a sentence:
        "завтра, вт 08.01", "ср 09.01")."""
        return self.t.relative_day(day, self.today, mid_sentence=mid_sentence)

    def when(self, start: dt.datetime) -> str:
        """A visit's start on the salon's clock: "08.01 15:00"."""
        return self.t.when(start.astimezone(self.salon.tz))

    def with_master(self, master: Master | None) -> str:
        return self.t["with_master"].format(master=self.master_name(master)) if master else ""

    def master_name(self, master: Master) -> str:
        return master.display_name(self.lang)

    def named(self, master_code: str, fallback: str) -> str:
        """A master's name in the customer's language, by code (a master no longer in the
        salon file keeps the name the booking was made with)."""
        master = self.salon.masters.get(master_code)
        return self.master_name(master) if master is not None else fallback

    def service_name(self, booking: Booking) -> str:
        """The booking's service; a visit's services joined ("Маникюр + Педикюр")."""
        parts = booking.items if len(booking.items) > 1 else (booking,)
        return " + ".join(
            p.service_names.get(self.lang) or next(iter(p.service_names.values()), p.service_code)
            for p in parts
        )

    def line(self, booking: Booking) -> str:
        return self.t["booking_line"].format(
            when=self.when(booking.starts_at),
            service=self.service_name(booking),
            master=self.named(booking.master_code, booking.master_name),
            code=booking.code,
        )

    def detail(self, booking: Booking) -> str:
        """A booking's list-row description: "Маникюр, Анна, K7M2QX"."""
        master = self.named(booking.master_code, booking.master_name)
        return f"{self.service_name(booking)}, {master}, {booking.code}"

    def describe(self, template: str, booking: Booking) -> str:
        return template.format(
            service=self.service_name(booking),
            when=self.when(booking.starts_at),
            master=self.named(booking.master_code, booking.master_name),
            code=booking.code,
        )


def _option(choice: opt.Choice, title: str, description: str | None = None) -> Option:
    return Option(id=opt.encode(choice), title=title, description=description)
