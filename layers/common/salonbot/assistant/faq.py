"""Zero-token answers to the questions customers ask most (prices, address, opening
hours), composed from the salon's own data.

Used in both modes: the router answers such a question before it asks the model, and the
guided flow answers its menu's "prices" and "address" taps with the same text. Replies
are cached per container, keyed on the salon's `revision`: every import bumps it, so a
re-imported price list or address is never answered from the old data (the entries of
older revisions are dropped when the first answer for a new one is built)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from salonbot.assistant.base import TurnResult
from salonbot.assistant.language import detect_language
from salonbot.assistant.parsing import (
    ADDRESS,
    BOOK,
    CANCEL,
    FAQ_INTENTS,
    HUMAN,
    MOVE,
    MY_BOOKINGS,
    PRICES,
    detect_intents,
    match_services,
    parse_when,
)
from salonbot.texts import phrases
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from salonbot.assistant.base import TurnInput
    from salonbot.booking.catalog import Salon, Service
    from salonbot.db.connection import Connection

CACHE_MAX_ENTRIES = 2048
# A question that also asks for one of these is not a pure FAQ: the engine handles it.
_NOT_FAQ = frozenset({BOOK, CANCEL, MOVE, MY_BOOKINGS, HUMAN})


def _price_line(salon: Salon, service: Service, language: str) -> str:
    t = phrases(language, salon.language)
    return t["price_line"].format(
        service=service.name(language),
        price=t.money(service.price, salon.currency),
        duration=t.duration(service.duration_minutes),
    )


def prices_text(salon: Salon, language: str, service_codes: tuple[str, ...] = ()) -> str:
    chosen = [salon.services[c] for c in service_codes if c in salon.services]
    if chosen:
        return "\n".join(_price_line(salon, s, language) for s in chosen)
    lines = [phrases(language, salon.language)["prices_heading"].format(salon=salon.name)]
    lines += [f"• {_price_line(salon, s, language)}" for s in salon.services.values()]
    return "\n".join(lines)


def address_text(salon: Salon, language: str) -> str:
    t = phrases(language, salon.language)
    address = salon.address_in(language)
    if not address:
        return t["no_address"]
    return t["address"].format(address=address)


def opening_hours(salon: Salon) -> dict[int, tuple[dt.time, dt.time]]:
    """ISO weekday -> (first start, last end) over every master's shifts."""
    hours: dict[int, tuple[dt.time, dt.time]] = {}
    for master in salon.masters.values():
        for weekday, shifts in master.shifts.items():
            if not shifts:
                continue
            start, end = min(s.start for s in shifts), max(s.end for s in shifts)
            if weekday in hours:
                start, end = min(start, hours[weekday][0]), max(end, hours[weekday][1])
            hours[weekday] = (start, end)
    return hours


def hours_text(salon: Salon, language: str) -> str:
    hours = opening_hours(salon)
    t = phrases(language, salon.language)
    if not hours:
        return t["no_hours"]
    # Runs of days with the same hours: "Пн–Ср: 09:00–20:00".
    runs: list[tuple[int, int, str]] = []
    for day in range(1, 8):
        span = hours.get(day)
        label = t.span(t.clock(span[0]), t.clock(span[1])) if span else t["closed"]
        if runs and runs[-1][2] == label and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day, label)
        else:
            runs.append((day, day, label))
    lines = [t["hours_heading"]]
    for first, last, label in runs:
        days = t.weekday(first, capitalised=True)
        if first != last:
            days = t.span(days, t.weekday(last, capitalised=True))
        lines.append(t["hours_line"].format(days=days, hours=label))
    return "\n".join(lines)


def _build(salon: Salon, topic: str, language: str, services: tuple[str, ...]) -> str:
    if topic == PRICES:
        return prices_text(salon, language, services)
    if topic == ADDRESS:
        return address_text(salon, language)
    return hours_text(salon, language)


CacheKey = tuple["uuid.UUID", int, str, str, tuple[str, ...]]


class FaqAnswers:
    """The FAQ texts of salons, cached per salon revision."""

    def __init__(self, max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._cache: dict[CacheKey, str] = {}
        self._revisions: dict[uuid.UUID, int] = {}
        self._lock = threading.Lock()
        self.built = 0  # answers composed (cache misses), for tests and the benchmark

    def answer(
        self, salon: Salon, topics: tuple[str, ...], language: str, services: tuple[str, ...] = ()
    ) -> str:
        """The reply to one or more FAQ topics (in the order given)."""
        return "\n\n".join(self._one(salon, t, language, services) for t in topics)

    def _one(self, salon: Salon, topic: str, language: str, services: tuple[str, ...]) -> str:
        key: CacheKey = (salon.id, salon.revision, topic, language, services)
        with self._lock:
            if self._revisions.get(salon.id) != salon.revision:
                # Re-imported: forget what was said from the salon's older data.
                self._cache = {k: v for k, v in self._cache.items() if k[0] != salon.id}
                self._revisions[salon.id] = salon.revision
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        text = _build(salon, topic, language, services)
        with self._lock:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            self._cache[key] = text
            self.built += 1
        return text


_shared = FaqAnswers()


def shared_answers() -> FaqAnswers:
    """The container's FAQ cache (the router's and the guided flow's)."""
    return _shared


@dataclass(frozen=True)
class FaqQuestion:
    topics: tuple[str, ...]
    services: tuple[str, ...]


def faq_question(text: str, salon: Salon, now: dt.datetime) -> FaqQuestion | None:
    """The FAQ topics of a message that asks nothing else (no booking, no date)."""
    intents = detect_intents(text)
    topics = tuple(t for t in FAQ_INTENTS if t in intents)
    if not topics or intents & _NOT_FAQ or not parse_when(text, now).empty:
        return None
    services = match_services(text, salon) if PRICES in topics else ()
    return FaqQuestion(topics, services)


class FaqResponder:
    """Answers a pure FAQ message at zero tokens; None for anything else."""

    def __init__(self, answers: FaqAnswers | None = None) -> None:
        self.answers = answers or shared_answers()

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult | None:
        if turn.interactive is not None or turn.message_type not in ("text", "interactive"):
            return None
        salon = turn.salon
        question = faq_question(turn.text, salon, salon.now())
        if question is None:
            return None
        language = detect_language(turn.text, turn.default_language)
        body = self.answers.answer(salon, question.topics, language, question.services)
        return TurnResult(messages=[TextMessage(body=body)], engine="faq", language=language)
