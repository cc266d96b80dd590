"""A customer talking to the guided flow without a database: the flow's `answer` over the
in-memory booking desk, the saved state carried from turn to turn as the conversation
store would carry it, and the replies read back as a phone shows them."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from salonbot.assistant.faq import FaqAnswers
from salonbot.assistant.guided import GuidedAnswer, GuidedFlow, GuidedMessage
from salonbot.assistant.guided import replies as r
from salonbot.booking.store import Booking
from salonbot.whatsapp.outgoing import ButtonsMessage, ListMessage, Option, TextMessage
from tests.conftest import DEMO_SALON_FILE
from tests.fakes.memory_desk import Calendar, MemoryDesk, salon_from_file

MOSCOW = ZoneInfo("Europe/Moscow")
# Monday 7 January 2030, 09:00 in Moscow: Anna does manicures Mon/Tue/Wed/Fri 10-14 and
# 15-20, Maria Tue/Thu/Fri 12-16 and 17-21 and weekends; bookings need an hour's notice.
NOW = dt.datetime(2030, 1, 7, 9, 0, tzinfo=MOSCOW)
MONDAY, TUESDAY, WEDNESDAY = (dt.date(2030, 1, d) for d in (7, 8, 9))
FRIDAY = dt.date(2030, 1, 11)
CUSTOMER = "+79001234567"
OTHER_CUSTOMER = "+79007654321"
STATE_TTL = dt.timedelta(minutes=30)
SALON = salon_from_file(DEMO_SALON_FILE)


def at(day: dt.date, time: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(time), tzinfo=MOSCOW)


@dataclass
class Chat:
    """One customer's conversation; `calendar` may be shared with other customers."""

    calendar: Calendar = field(default_factory=lambda: Calendar(SALON))
    phone: str = CUSTOMER
    now: dt.datetime = NOW
    interactive: bool = True  # False: the HTTP API or the terminal chat
    language: str = "ru"  # the conversation's language before the flow answers
    flow: GuidedFlow = field(
        default_factory=lambda: GuidedFlow(state_ttl=STATE_TTL, faq=FaqAnswers())
    )
    saved: dict[str, Any] = field(default_factory=dict)
    answer: GuidedAnswer | None = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    # -- the customer -----------------------------------------------------------------------

    def send(self, message: GuidedMessage) -> GuidedAnswer:
        answer = self.flow.answer(
            self.saved,
            message,
            self.desk(),
            now=self.now,
            default_language=self.language,
            interactive=self.interactive,
        )
        self.saved, self.answer = answer.state, answer
        return answer

    def say(self, text: str, *, kind: str = "text") -> GuidedAnswer:
        return self.send(GuidedMessage(text=text, message_type=kind, message_id=self._id()))

    def tap(self, title_prefix: str) -> GuidedAnswer:
        return self.tap_id(self.option(title_prefix).id)

    def tap_id(self, option_id: str) -> GuidedAnswer:
        message = GuidedMessage(tapped=option_id, message_type="interactive", message_id=self._id())
        return self.send(message)

    def _id(self) -> str:
        return f"wamid.{self.phone}.{next(self._ids)}"

    # -- what the phone shows -----------------------------------------------------------------

    @property
    def last(self) -> GuidedAnswer:
        assert self.answer is not None, "nothing was said yet"
        return self.answer

    @property
    def messages(self) -> list[TextMessage | ListMessage | ButtonsMessage]:
        return self.last.result.messages

    @property
    def replies(self) -> list[r.Reply]:
        return self.last.replies

    @property
    def question(self) -> r.Reply:
        """The reply intent of the last message (the question asked, if any)."""
        return self.replies[-1]

    @property
    def text(self) -> str:
        return "\n".join(m.body for m in self.messages)

    @property
    def options(self) -> list[Option]:
        return [o for m in self.messages if not isinstance(m, TextMessage) for o in m.options]

    def titles(self) -> list[str]:
        return [o.title for o in self.options]

    def option(self, title_prefix: str) -> Option:
        for option in self.options:
            if option.title.lower().startswith(title_prefix.lower()):
                return option
        raise AssertionError(f"no option {title_prefix!r} in {self.titles()}")

    # -- the salon --------------------------------------------------------------------------

    def desk(self, phone: str | None = None) -> MemoryDesk:
        return self.calendar.desk(phone or self.phone, self.now)

    def bookings(self) -> list[Booking]:
        """Every live booking in the salon."""
        return self.calendar.live()
