"""Property: whatever a customer asks for (any service, master, day in or out of the
horizon, time, part of the day) on a salon filled at random, every "nothing free" and
"not free" the guided dialogue says is what the availability engine says too, and every
message gets a reply. Seeded, so a failure replays."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from salonbot.booking.salon_file import load_salon_file
from salonbot.errors import SlotTaken
from tests.conftest import DEMO_SALON_FILE
from tests.fakes.memory_desk import Calendar, salon_from_file
from tests.unit.guided.chat import NOW, Chat
from tests.unit.guided.truth import false_statements

BARBERSHOP_FILE = DEMO_SALON_FILE.parent.parent / "evals" / "salons" / "barbershop.yaml"
MONTHS_RU = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря")  # fmt: skip
CONVERSATIONS = 40


def _day_words(rng: random.Random, day: dt.date) -> str:
    return rng.choice(
        [f"{day.day} {MONTHS_RU[day.month - 1]}", f"{day:%d.%m}", f"{day.day:d} числа"]
    )


def _fill(rng: random.Random, chat: Chat, share: float, service_code: str) -> None:
    """Book a random share of the service's free times over the horizon for other
    customers (the service asked about, so its days do fill up)."""
    salon = chat.calendar.salon
    for offset in range(salon.booking_horizon_days):
        day = NOW.date() + dt.timedelta(days=offset)
        if share == 0:
            return
        for slot in chat.desk("+79990000000").slots_on(service_code, day)[::2]:
            if rng.random() < share:
                phone = f"+7999{rng.randrange(10**7):07d}"
                try:
                    chat.desk(phone).book(service_code, slot.starts_at, slot.master_code)
                except SlotTaken:  # overlaps one booked just before
                    continue


@pytest.mark.parametrize("salon_file", [DEMO_SALON_FILE, BARBERSHOP_FILE], ids=["demo", "barber"])
def test_every_nothing_free_statement_is_true(salon_file: object) -> None:
    rng = random.Random(20301207)
    base = salon_from_file(load_salon_file(str(salon_file)))
    checked = statements = 0
    for n in range(CONVERSATIONS):
        salon = dataclasses.replace(base, booking_horizon_days=rng.choice([2, 4, 7, 14]))
        chat = Chat(calendar=Calendar(salon), phone=f"+7900{n:07d}")
        service = rng.choice(list(salon.services.values()))
        _fill(rng, chat, rng.choice([0.0, 0.7, 1.0, 1.0]), service.code)
        master = rng.choice([None, *salon.masters_for(service), *salon.masters.values()])
        day = NOW.date() + dt.timedelta(days=rng.randrange(-20, 45))
        parts = [service.names["ru"]]
        if master is not None:
            parts.append(f"к {master.name}")
        parts.append(_day_words(rng, day))
        parts.append(rng.choice(["", f"в {rng.randrange(0, 24)}:{rng.choice(['00', '30'])}",
                                 "после обеда", "утром", "в 3 ночи", "самое раннее"]))  # fmt: skip
        messages = [" ".join(p for p in parts if p), "другой день", "в пятницу", "ок"]
        for text in messages:
            answer = chat.say(text)
            assert answer.result.messages, f"silence for {text!r}"
            wrong = false_statements(answer.replies, chat.desk())
            assert not wrong, f"{text!r}: {wrong}"
            statements += sum(1 for x in answer.replies if type(x).__name__ in _STATEMENTS)
            checked += 1
    assert checked == 4 * CONVERSATIONS
    assert statements > 20  # the salons were full often enough to say so


_STATEMENTS = {"NoFreeDays", "DayFull", "TimeNotFree"}
