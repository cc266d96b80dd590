"""The guided flow: a deterministic dialogue that books, lists, moves and cancels with
WhatsApp lists and buttons, at zero tokens. The router uses it when the model is off,
over budget or failing; it is also the local stack's engine without an OpenAI key.

Booking: service (with prices) -> master ("any master" first) -> day -> time -> confirm
-> booking code. Free text fills in as much as it can ("Хочу на маникюр к Анне завтра в
15:00" goes straight to the confirmation), taps come back as option ids, and channels
without interactive messages answer with an option's number or its text.

State: the dialogue's step and choices live in `ai_conversations.state` (jsonb) with the
time they were saved, so a new container resumes where the customer left off; a state
older than `state_ttl` is dropped (the customer starts again, and is told so when they
answer an old question). Effects go through the booking store in the caller's
transaction; the reply says "booked" only after the store returned the booking."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from salonbot.assistant.base import TurnResult
from salonbot.assistant.faq import FaqAnswers, shared_answers
from salonbot.assistant.language import detect_language
from salonbot.assistant.parsing import (
    ADDRESS,
    BOOK,
    CANCEL,
    FAQ_INTENTS,
    GREETING,
    HOURS,
    HUMAN,
    MENU,
    MOVE,
    MY_BOOKINGS,
    NO,
    PRICES,
    THANKS,
    YES,
    ParsedMessage,
    When,
    normalize,
    parse_message,
)
from salonbot.booking import availability, store
from salonbot.conversation import store as conversations
from salonbot.errors import (
    BookingLimitReached,
    BookingNotFound,
    ClientBusy,
    InvalidInput,
    NotFound,
    SlotTaken,
    SlotUnavailable,
)
from salonbot.texts import WEEKDAYS, phrases
from salonbot.whatsapp.outgoing import ButtonsMessage, ListMessage, Option, TextMessage

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.assistant.base import TurnInput
    from salonbot.booking.availability import Slot
    from salonbot.booking.catalog import Master, Salon, Service
    from salonbot.booking.store import Booking
    from salonbot.db.connection import Connection

STATE_VERSION = 1
DEFAULT_STATE_TTL = dt.timedelta(minutes=30)
ROWS = 9  # list rows per page; the tenth is "later"
MEDIA_TYPES = frozenset({"audio", "voice", "video", "image", "document", "sticker", "location"})
ANY = "*"
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
_BOOKING_WORDS = re.compile(r"запис|визит|booking|appointment|reservation")

Message = TextMessage | ListMessage | ButtonsMessage


class GuidedFlow:
    """`Assistant` with no model: a state machine over the booking core."""

    def __init__(
        self,
        *,
        state_ttl: dt.timedelta = DEFAULT_STATE_TTL,
        clock: Callable[[], dt.datetime] | None = None,
        faq: FaqAnswers | None = None,
    ) -> None:
        self.state_ttl = state_ttl
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.faq = faq or shared_answers()

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        now = self._clock()
        saved = (
            dict(turn.guided_state)
            if turn.guided_state is not None
            else conversations.get_state(conn, turn.conversation_id)
        )
        state, expired = _fresh_state(saved, now, self.state_ttl)
        language = _language(turn, saved.get("lang") or turn.default_language)
        dialog = _Dialog(conn, turn, state, now.astimezone(turn.salon.tz), language, self.faq)
        dialog.run(expired=expired)
        dialog.state.update({"v": STATE_VERSION, "at": now.isoformat(), "lang": language})
        conversations.set_state(conn, turn.conversation_id, dialog.state)
        return TurnResult(
            messages=dialog.messages,
            engine="faq" if dialog.faq_only else "guided",
            language=language,
            booking_code=dialog.booking_code,
            handoff=dialog.handoff,
            tool_calls=dialog.actions,
        )


def _fresh_state(
    saved: dict[str, Any], now: dt.datetime, ttl: dt.timedelta
) -> tuple[dict[str, Any], bool]:
    """The saved state, or an empty one when it is stale or from another version."""
    if not saved.get("step"):
        return {}, False
    try:
        at = dt.datetime.fromisoformat(str(saved["at"]))
    except (KeyError, ValueError):
        return {}, True
    if saved.get("v") != STATE_VERSION or now - at > ttl:
        return {}, True
    return dict(saved), False


def _language(turn: TurnInput, previous: str) -> str:
    """The customer's language: taps carry our own titles, so they keep the previous."""
    if turn.interactive is not None or not _has_words(turn.text):
        return previous
    return detect_language(turn.text, previous)


class _Dialog:
    """One turn of the guided flow: reads the input, changes state, composes the reply."""

    def __init__(
        self,
        conn: Connection,
        turn: TurnInput,
        state: dict[str, Any],
        now: dt.datetime,
        language: str,
        faq: FaqAnswers,
    ) -> None:
        self.conn = conn
        self.turn = turn
        self.salon: Salon = turn.salon
        self.state = state
        self.now = now  # salon-local
        self.lang = language
        self.t = phrases(language)
        self.faq = faq
        self.messages: list[Message] = []
        self.booking_code: str | None = None
        self.handoff = False
        self.faq_only = False
        self.actions: list[dict[str, Any]] = []

    # -- entry ------------------------------------------------------------------------------

    def run(self, *, expired: bool) -> None:
        turn = self.turn
        choice = self._choice()
        answered_old_question = turn.interactive is not None or _NUMBER.match(turn.text)
        if (
            expired
            and answered_old_question
            and (choice is None or not choice.startswith(("menu:", "svc:")))
        ):
            self.say(self.t["expired"])
            self.main_menu()
            return
        if choice is not None:
            self.on_choice(choice)
            return
        if turn.message_type in MEDIA_TYPES and not _has_words(turn.text):
            self.say(self.t["media"])
            self.main_menu()
            return
        self.on_text(parse_message(turn.text, self.salon, self.now))

    def _choice(self) -> str | None:
        """The option the customer picked: a tap, an option's number, or its exact title."""
        turn = self.turn
        options: list[list[str]] = self.state.get("options") or []
        tapped = turn.interactive.id if turn.interactive is not None else ""
        if ":" in tapped or tapped in ("ok", "no"):
            return tapped
        number = _NUMBER.match(turn.text)
        if number and 1 <= int(number[1]) <= len(options):
            return options[int(number[1]) - 1][0]
        typed = normalize(turn.text).rstrip(".!")
        for option_id, title in options:
            if typed and normalize(title) == typed:
                return option_id
        return None

    # -- taps -------------------------------------------------------------------------------

    def on_choice(self, choice: str) -> None:
        kind, _, value = choice.partition(":")
        st = self.state
        if kind == "menu":
            self.on_menu(value)
        elif kind == "svc":
            self.start_booking(service=value)
        elif kind == "mst" and st.get("service"):
            st["master"] = value
            self.advance()
        elif kind == "day" and st.get("service"):
            st.update(day=value, page=0)
            self.advance()
        elif kind == "days" and st.get("service"):
            self.show_days(dt.date.fromisoformat(value))
        elif kind == "times" and st.get("day"):
            st["page"] = int(value)
            self.advance()
        elif kind == "otherday" and st.get("service"):
            for key in ("day", "start", "wanted", "page", "after", "before"):
                st.pop(key, None)
            self.advance()
        elif kind == "time" and st.get("service"):
            start, _, master = value.partition("|")
            st.update(start=start, slot_master=master)
            self.confirm()
        elif kind == "ok" and st.get("start"):
            # A confirm button names the slot it confirms: a tap under an older
            # confirmation (another time asked for since) must not book the newer one.
            if value == self._confirm_slot():
                self.commit()
            else:
                self.say(self.t["confirm_stale"])
                self.confirm()
        elif choice == "no":
            self.decline()
        elif kind == "bk":
            self.booking_actions(value)
        elif kind == "cancel":
            self.ask_cancel(value)
        elif kind == "cancelok":
            self.cancel(value)
        elif kind == "move":
            self.start_move(value)
        else:
            self.say(self.t["expired"])
            self.main_menu()

    def on_menu(self, item: str) -> None:
        if item == "book":
            self.start_booking()
        elif item == "mine":
            self.my_bookings()
        elif item == "prices":
            self.say(self.faq.answer(self.salon, (PRICES,), self.lang))
        elif item == "address":
            self.say(self.faq.answer(self.salon, (ADDRESS, HOURS), self.lang))
        elif item == "human":
            self.hand_off()
        else:
            self.main_menu()

    # -- free text --------------------------------------------------------------------------

    def on_text(self, parsed: ParsedMessage) -> None:
        intents = parsed.intents
        step = self.state.get("step")
        at_confirm = step in ("confirm", "cancel_confirm")
        if at_confirm and YES in intents and not intents & {CANCEL, MOVE}:
            if step == "confirm":
                self.commit()
            else:
                self.cancel(str(self.state.get("booking")))
            return
        if at_confirm and (
            NO in intents or (CANCEL in intents and not _BOOKING_WORDS.search(self.turn.text))
        ):
            self.decline()
            return
        if HUMAN in intents:
            self.hand_off()
        elif CANCEL in intents:
            self.find_booking_for("cancel", parsed.code)
        elif MOVE in intents:
            self.find_booking_for("move", parsed.code, parsed.when)
        elif MY_BOOKINGS in intents:
            self.my_bookings()
        elif intents & set(FAQ_INTENTS) and BOOK not in intents and parsed.when.empty:
            topics = tuple(t for t in FAQ_INTENTS if t in intents)
            self.say(self.faq.answer(self.salon, topics, self.lang, parsed.services))
            self.faq_only = True
        elif parsed.services or parsed.master or not parsed.when.empty or BOOK in intents:
            self.fill(parsed)
        elif parsed.any_master and step == "master":
            self.state["master"] = ANY
            self.advance()
        elif THANKS in intents:
            self.say(self.t["thanks"])
        elif GREETING in intents or MENU in intents or not step:
            if GREETING in intents:
                self.say(self.t["greeting"].format(salon=self.salon.name))
            elif not intents:
                self.say(self.t["unknown"])
            self.state.clear()
            self.main_menu()
        else:
            self.say(self.t["unknown_step"])
            self.advance()

    def fill(self, parsed: ParsedMessage) -> None:
        """Merge what the text named into the booking (or the move) being made."""
        st = self.state
        moving = st.get("flow") == "move" and not parsed.services
        if not moving and st.get("flow") != "book":
            st.clear()
            st["flow"] = "book"
        if parsed.services and not moving:
            if parsed.service is None:
                st.pop("service", None)
                st["candidates"] = list(parsed.services)
            elif parsed.service != st.get("service"):
                for key in ("service", "day", "start", "page", "candidates"):
                    st.pop(key, None)
                st["service"] = parsed.service
                if st.get("master") not in (None, ANY) and not self._does(
                    st["master"], parsed.service
                ):
                    st.pop("master", None)
        if parsed.master and not moving:
            service = st.get("service")
            if service and not self._does(parsed.master, service):
                self.say(
                    self.t["master_not_for_service"].format(
                        master=self.salon.masters[parsed.master].name,
                        service=self.salon.services[service].name(self.lang),
                    )
                )
            else:
                st["master"] = parsed.master
        elif parsed.any_master and not moving:
            st["master"] = ANY
        self._merge_when(parsed.when)
        self.advance()

    def _merge_when(self, when: When) -> None:
        st = self.state
        if when.date is not None:
            st.update(day=when.date.isoformat(), page=0)
            st.pop("start", None)
        if when.time is not None:
            st["wanted"] = when.time.strftime("%H:%M")
            st.pop("start", None)
        if when.after is not None or when.before is not None:
            st["after"] = when.after.strftime("%H:%M") if when.after else None
            st["before"] = when.before.strftime("%H:%M") if when.before else None

    def _does(self, master_code: str, service_code: str) -> bool:
        master = self.salon.masters.get(master_code)
        service = self.salon.services.get(service_code)
        return master is not None and service is not None and master.does(service)

    # -- the booking steps ------------------------------------------------------------------

    def start_booking(self, service: str | None = None) -> None:
        self.state.clear()
        self.state["flow"] = "book"
        if service is not None:
            self.state["service"] = service
        self.advance()

    def advance(self) -> None:
        """Ask for the first thing the booking (or move) still needs."""
        st = self.state
        if not st.get("flow"):
            self.main_menu()
            return
        service = self.salon.services.get(st.get("service") or "")
        if service is None:
            self.show_services()
            return
        if "master" not in st:
            masters = self.salon.masters_for(service)
            if len(masters) > 1 and not st.get("day"):
                self.show_masters(service, masters)
                return
            st["master"] = ANY
        if st["master"] != ANY and not self._does(st["master"], service.code):
            st["master"] = ANY
        if not st.get("day"):
            self.show_days(self.now.date())
            return
        self.show_times(service)

    def show_services(self) -> None:
        st = self.state
        services = list(self.salon.services.values())
        candidates = st.pop("candidates", None)
        if candidates:
            services = [s for s in services if s.code in candidates]
        master = self.salon.masters.get(st.get("master") or "")
        if master is not None:
            services = [s for s in services if master.does(s)] or services
        options = [
            Option(
                id=f"svc:{s.code}",
                title=s.name(self.lang),
                description=f"{_price(s, self.salon)}, {s.duration_minutes} "
                + ("мин" if self.lang == "ru" else "min"),
            )
            for s in services[: ROWS + 1]
        ]
        st["step"] = "service"
        self.ask_list(self.t["choose_service"], self.t["services_button"], options)

    def show_masters(self, service: Service, masters: list[Master]) -> None:
        options = [Option(id=f"mst:{ANY}", title=self.t["any_master"])]
        options += [Option(id=f"mst:{m.code}", title=m.name) for m in masters[:ROWS]]
        self.state["step"] = "master"
        body = self.t["choose_master"].format(service=service.name(self.lang))
        self.ask_list(body, self.t["masters_button"], options)

    def _masters(self, service: Service) -> list[Master]:
        code = self.state.get("master")
        if code and code != ANY and code in self.salon.masters:
            return [self.salon.masters[code]]
        return self.salon.masters_for(service)

    def _slots_by_day(
        self, service: Service, days: list[dt.date], limit_days: int | None = None
    ) -> dict[dt.date, list[Slot]]:
        """Free slots per day with one bookings query (the booking being moved is free)."""
        masters = self._masters(service)
        days = [d for d in days if availability.in_horizon(self.salon, d, self.now)]
        if not days or not masters:
            return {}
        tz = self.salon.tz
        start = max(availability.day_start(days[0], tz), self.now.timestamp())
        blocked = (service.duration_minutes + service.buffer_after_minutes) * 60
        end = availability.day_start(days[-1] + dt.timedelta(days=1), tz) + blocked
        busy = availability.fetch_busy(
            self.conn,
            self.salon,
            [m.id for m in masters],
            start,
            end,
            exclude_booking=self.state.get("booking_id"),
        )
        found: dict[dt.date, list[Slot]] = {}
        for day in days:
            slots = availability.slots_for_day(self.salon, service, masters, day, busy, self.now)
            if slots:
                found[day] = slots
                if limit_days is not None and len(found) >= limit_days:
                    break
        return found

    def show_days(self, first: dt.date, note: str | None = None) -> None:
        st = self.state
        service = self.salon.services[st["service"]]
        last = self.now.date() + dt.timedelta(days=self.salon.booking_horizon_days - 1)
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        free = self._slots_by_day(service, days, ROWS + 1)
        for key in ("day", "start", "page"):
            st.pop(key, None)
        if note:
            self.say(note)
        if not free:
            self.say(self.t["no_days"].format(days=self.salon.booking_horizon_days))
            st.clear()
            self.main_menu()
            return
        shown = sorted(free)[:ROWS]
        options = [
            Option(
                id=f"day:{d.isoformat()}",
                title=self.day_title(d),
                description=self.t["free_count"].format(count=len(free[d])),
            )
            for d in shown
        ]
        if len(free) > ROWS:
            later = shown[-1] + dt.timedelta(days=1)
            options.append(Option(id=f"days:{later.isoformat()}", title=self.t["later_days"]))
        st["step"] = "day"
        body = self.t["choose_day"].format(
            service=service.name(self.lang), master=self._master_suffix()
        )
        self.ask_list(body, self.t["days_button"], options)

    def show_times(self, service: Service) -> None:
        st = self.state
        day = dt.date.fromisoformat(st["day"])
        slots = self._slots_by_day(service, [day]).get(day, [])
        if not slots:
            self.show_days(
                day + dt.timedelta(days=1), self.t["day_full"].format(day=self.day_title(day))
            )
            return
        wanted = st.pop("wanted", None)
        if wanted:
            exact = [s for s in slots if f"{s.starts_at:%H:%M}" == wanted]
            if exact:
                st.update(start=exact[0].starts_at.isoformat(), slot_master=exact[0].master_code)
                self.confirm()
                return
            target = dt.datetime.combine(day, dt.time.fromisoformat(wanted), tzinfo=self.salon.tz)
            nearest = sorted(slots, key=lambda s: abs((s.starts_at - target).total_seconds()))
            self.say(self.t["time_not_free"].format(time=wanted))
            self.ask_times(service, day, sorted(nearest[:ROWS], key=lambda s: s.starts_at), None)
            return
        after, before = st.get("after"), st.get("before")
        if after or before:
            in_part = [
                s
                for s in slots
                if (not after or f"{s.starts_at:%H:%M}" >= after)
                and (not before or f"{s.starts_at:%H:%M}" < before)
            ]
            if in_part:
                slots = in_part
            else:
                self.say(self.t["no_time_in_part"])
        page = int(st.get("page") or 0)
        chunk = slots[page * ROWS : (page + 1) * ROWS]
        if not chunk:
            page, chunk = 0, slots[:ROWS]
        more = f"times:{page + 1}" if len(slots) > (page + 1) * ROWS else None
        self.ask_times(service, day, chunk, more)

    def ask_times(
        self, service: Service, day: dt.date, slots: list[Slot], more: str | None
    ) -> None:
        any_master = self.state.get("master") == ANY
        options = [
            Option(
                id=f"time:{s.starts_at.isoformat()}|{s.master_code}",
                title=f"{s.starts_at:%H:%M}",
                description=s.master_name if any_master else None,
            )
            for s in slots
        ]
        options.append(
            Option(id=more, title=self.t["later_times"])
            if more
            else Option(id="otherday:", title=self.t["other_day"])
        )
        self.state["step"] = "time"
        body = self.t["choose_time"].format(
            service=service.name(self.lang),
            master=self._master_suffix(),
            day=self.day_title(day),
        )
        self.ask_list(body, self.t["times_button"], options)

    def confirm(self) -> None:
        st = self.state
        service = self.salon.services[st["service"]]
        start = dt.datetime.fromisoformat(st["start"])
        master = self.salon.masters.get(st.get("slot_master") or "")
        master_name = master.name if master else "—"
        when = self.when(start)
        if st.get("flow") == "move":
            st["step"] = "confirm"
            body = self.t["move_confirm"].format(
                service=service.name(self.lang), when=when, master=master_name
            )
            no = self.t["move_no"]
        else:
            st["step"] = "confirm"
            body = self.t["confirm"].format(
                service=service.name(self.lang),
                when=when,
                master=master_name,
                price=_price(service, self.salon),
            )
            no = self.t["confirm_no"]
        self.ask_buttons(
            body,
            [
                Option(id=f"ok:{self._confirm_slot()}", title=self.t["confirm_yes"]),
                Option(id="otherday:", title=self.t["confirm_other"]),
                Option(id="no", title=no),
            ],
        )

    def _confirm_slot(self) -> str:
        """The slot the confirmation asks about, as its button id carries it
        ("<iso start>|<master code>", far within WhatsApp's 200-character id limit)."""
        return f"{self.state.get('start') or ''}|{self.state.get('slot_master') or ''}"

    def commit(self) -> None:
        """Book (or move) what the customer confirmed; only the store's answer counts."""
        st = self.state
        if not st.get("start") or not st.get("service"):
            self.say(self.t["expired"])
            self.main_menu()
            return
        start = dt.datetime.fromisoformat(st["start"])
        master = st.get("master")
        try:
            if st.get("flow") == "move":
                booking = store.move_booking(
                    self.conn,
                    self.salon,
                    phone=self.turn.phone,
                    code=st["booking"],
                    starts_at=start,
                    master_code=st.get("slot_master") or None,
                    now=self.now,
                )
                self.record("move", {"code": st["booking"], "start": st["start"]}, booking)
                self.say(self._describe(self.t["moved"], booking))
            else:
                booking = store.create_booking(
                    self.conn,
                    self.salon,
                    phone=self.turn.phone,
                    service_code=st["service"],
                    starts_at=start,
                    master_code=None if master in (None, ANY) else master,
                    client_name=self.turn.contact_name,
                    source_message_id=self.turn.message_id,
                    now=self.now,
                )
                self.record("book", {"service": st["service"], "start": st["start"]}, booking)
                self.say(self._describe(self.t["booked"], booking))
                self.booking_code = booking.code
        except BookingLimitReached as exc:
            # No other time would help: her bookings, each with move and cancel.
            self.record("book", st, None, str(exc))
            self.say(self.t["booking_limit"].format(limit=exc.limit))
            self.my_bookings()
            return
        except (SlotTaken, SlotUnavailable) as exc:
            self.record("move" if st.get("flow") == "move" else "book", st, None, str(exc))
            self.say(self.t["client_busy" if isinstance(exc, ClientBusy) else "slot_taken"])
            st.update(day=start.date().isoformat(), page=0)
            for key in ("start", "wanted", "after", "before"):
                st.pop(key, None)
            self.show_times(self.salon.services[st["service"]])
            return
        except (BookingNotFound, InvalidInput, NotFound):
            self.say(self.t["not_changeable"])
            self.state.clear()
            return
        self.state.clear()

    def decline(self) -> None:
        self.state.clear()
        self.say(self.t["declined"])

    # -- bookings the customer has ----------------------------------------------------------

    def _upcoming(self) -> list[Booking]:
        return store.list_bookings(self.conn, self.salon, phone=self.turn.phone, now=self.now)

    def my_bookings(self) -> None:
        bookings = self._upcoming()
        self.state.clear()
        if not bookings:
            self.say(self.t["no_bookings"])
            self.main_menu()
            return
        lines = [self.t["my_bookings"], *(self._line(b) for b in bookings)]
        options = [
            Option(
                id=f"bk:{b.code}",
                title=f"{b.starts_at:%d.%m %H:%M} {b.service_names.get(self.lang, '')}".strip(),
                description=f"{b.master_name}, {b.code}",
            )
            for b in bookings[: ROWS + 1]
        ]
        self.state["step"] = "bookings"
        self.ask_list("\n".join(lines), self.t["bookings_button"], options)

    def _find(self, code: str) -> Booking | None:
        try:
            booking = store.find_booking(self.conn, self.salon, phone=self.turn.phone, code=code)
        except (BookingNotFound, InvalidInput):
            booking = None
        if booking is None or booking.status != "confirmed" or booking.starts_at <= self.now:
            self.say(self.t["booking_not_found"].format(code=code))
            self.my_bookings()
            return None
        return booking

    def booking_actions(self, code: str) -> None:
        booking = self._find(code)
        if booking is None:
            return
        self.state.clear()
        self.state["step"] = "booking"
        self.ask_buttons(
            self.t["booking_actions"].format(booking=self._line(booking)),
            [
                Option(id=f"move:{booking.code}", title=self.t["action_move"]),
                Option(id=f"cancel:{booking.code}", title=self.t["action_cancel"]),
                Option(id="menu:", title=self.t["action_menu"]),
            ],
        )

    def find_booking_for(self, action: str, code: str | None, when: When | None = None) -> None:
        """Which booking "cancel"/"move" is about: the code given, the only one, or a pick."""
        if code is None:
            bookings = self._upcoming()
            if not bookings:
                self.state.clear()
                self.say(self.t["no_bookings"])
                self.main_menu()
                return
            if len(bookings) > 1:
                self.state.clear()
                self.state["step"] = "bookings"
                options = [
                    Option(
                        id=f"{action}:{b.code}",
                        title=f"{b.starts_at:%d.%m %H:%M} {b.service_names.get(self.lang, '')}",
                        description=f"{b.master_name}, {b.code}",
                    )
                    for b in bookings[: ROWS + 1]
                ]
                body = self.t["which_cancel" if action == "cancel" else "which_move"]
                self.ask_list(body, self.t["bookings_button"], options)
                return
            code = bookings[0].code
        if action == "cancel":
            self.ask_cancel(code)
        else:
            self.start_move(code, when)

    def ask_cancel(self, code: str) -> None:
        booking = self._find(code)
        if booking is None:
            return
        self.state.clear()
        self.state.update(step="cancel_confirm", booking=booking.code)
        self.ask_buttons(
            self.t["cancel_confirm"].format(booking=self._line(booking)),
            [
                Option(id=f"cancelok:{booking.code}", title=self.t["cancel_yes"]),
                Option(id="no", title=self.t["cancel_no"]),
            ],
        )

    def cancel(self, code: str) -> None:
        try:
            booking = store.cancel_booking(
                self.conn, self.salon, phone=self.turn.phone, code=code, now=self.now
            )
        except (BookingNotFound, InvalidInput):
            self.state.clear()
            self.say(self.t["not_changeable"])
            return
        self.record("cancel", {"code": code}, booking)
        self.state.clear()
        self.say(self.t["cancelled"].format(booking=self._line(booking)))

    def start_move(self, code: str, when: When | None = None) -> None:
        booking = self._find(code)
        if booking is None:
            return
        self.state.clear()
        self.state.update(
            flow="move",
            booking=booking.code,
            booking_id=booking.id,
            service=booking.service_code,
            master=booking.master_code,
        )
        if when is not None:
            self._merge_when(when)
        self.advance()

    # -- other answers ------------------------------------------------------------------------

    def hand_off(self) -> None:
        self.state.clear()
        self.handoff = True
        self.say(self.t["handoff"])

    def main_menu(self) -> None:
        t = self.t
        options = [
            Option(id="menu:book", title=t["menu_book"]),
            Option(id="menu:mine", title=t["menu_mine"]),
            Option(id="menu:prices", title=t["menu_prices"]),
            Option(id="menu:address", title=t["menu_address"]),
            Option(id="menu:human", title=t["menu_human"]),
        ]
        self.state["step"] = self.state.get("step") or "menu"
        self.ask_list(t["menu"], t["menu_button"], options)

    # -- rendering ----------------------------------------------------------------------------

    def say(self, body: str) -> None:
        self.messages.append(TextMessage(body=body))

    def _remember(self, options: list[Option]) -> None:
        self.state["options"] = [[o.id, o.title] for o in options]

    def _body(self, body: str) -> str:
        if self.turn.interactive_supported:
            return body
        return f"{body}\n{self.t['number_hint']}"

    def ask_list(self, body: str, button: str, options: list[Option]) -> None:
        self._remember(options)
        self.messages.append(ListMessage(body=self._body(body), button=button, options=options))

    def ask_buttons(self, body: str, options: list[Option]) -> None:
        self._remember(options)
        self.messages.append(ButtonsMessage(body=self._body(body), options=options))

    def day_title(self, day: dt.date) -> str:
        weekday = WEEKDAYS.get(self.lang, WEEKDAYS["en"])[day.weekday()]
        label = f"{weekday} {day:%d.%m}"
        ahead = (day - self.now.date()).days
        if ahead == 0:
            return f"{self.t['today']}, {label}"
        if ahead == 1:
            return f"{self.t['tomorrow']}, {label}"
        return label[0].upper() + label[1:]

    def when(self, start: dt.datetime) -> str:
        return f"{start.astimezone(self.salon.tz):%d.%m %H:%M}"

    def _master_suffix(self) -> str:
        master = self.salon.masters.get(self.state.get("master") or "")
        return self.t["with_master"].format(master=master.name) if master else ""

    def _service_name(self, booking: Booking) -> str:
        names = booking.service_names
        return names.get(self.lang) or next(iter(names.values()), booking.service_code)

    def _line(self, booking: Booking) -> str:
        return self.t["booking_line"].format(
            when=self.when(booking.starts_at),
            service=self._service_name(booking),
            master=booking.master_name,
            code=booking.code,
        )

    def _describe(self, template: str, booking: Booking) -> str:
        return template.format(
            service=self._service_name(booking),
            when=self.when(booking.starts_at),
            master=booking.master_name,
            code=booking.code,
        )

    def record(
        self, name: str, arguments: dict[str, Any], booking: Booking | None, error: str = ""
    ) -> None:
        """The booking operations of the turn, kept with the reply like the agent's tools."""
        result: dict[str, Any] = (
            {"ok": True, "code": booking.code} if booking else {"ok": False, "error": error}
        )
        args = {k: v for k, v in arguments.items() if k in ("service", "start", "code", "booking")}
        self.actions.append({"name": name, "arguments": args, "result": result})


def _price(service: Service, salon: Salon) -> str:
    return phrases(salon.language).money(service.price, salon.currency)


def _has_words(text: str) -> bool:
    return bool(re.search(r"[A-Za-zА-Яа-яЁё]", text)) and not text.startswith("[")
