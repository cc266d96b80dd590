"""The guided flow without a model: turn latency through the processor (PostgreSQL, the
fake WhatsApp send API), parse accuracy on the phrase table of the unit tests, and the
share of a scripted conversation's turns answered at zero tokens.

Run: `python -m benchmarks guided`."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from benchmarks.harness import Row, Timing, fresh_database_url

AREA = "guided"
CONVERSATIONS = 30


def _parse_accuracy() -> tuple[int, int, list[str]]:
    from salonbot.assistant.parsing import parse_message
    from tests.unit.guided_phrases import ENGLISH, NOW, RUSSIAN, demo_salon

    salon = demo_salon()
    right, wrong = 0, []
    for phrase in [*RUSSIAN, *ENGLISH]:
        parsed = parse_message(phrase.text, salon, NOW)
        ok = (
            parsed.services == phrase.services
            and parsed.master == phrase.master
            and parsed.when.date == phrase.date
            and parsed.when.time == phrase.time
            and parsed.when.after == phrase.after
            and (phrase.intent is None or phrase.intent in parsed.intents)
        )
        if ok:
            right += 1
        else:
            wrong.append(phrase.text)
    return right, len(RUSSIAN) + len(ENGLISH), wrong


# One scripted conversation: (kind, value) where kind is "say" or "tap" (title prefix).
SCRIPT: list[tuple[str, str]] = [
    ("say", "Здравствуйте"),
    ("tap", "Записаться"),
    ("tap", "Маникюр"),
    ("tap", "Любой мастер"),
    ("tap", "Завтра"),
    ("tap", ""),  # the first free time
    ("tap", "Подтвердить"),
    ("say", "Сколько стоит педикюр?"),
    ("say", "Где вы находитесь?"),
    ("say", "Хочу на педикюр в пятницу после обеда"),
    ("tap", ""),
    ("tap", "Подтвердить"),
    ("say", "Мои записи"),
    ("say", "Перенести запись"),
    ("tap", ""),  # the first booking
    ("tap", ""),  # the first day
    ("tap", ""),  # the first time
    ("tap", "Подтвердить"),
    ("say", "Отменить запись"),
    ("tap", ""),
    ("tap", "Да, отменить"),
    ("say", "🙂"),
]


def _timed(action: Any, argument: str) -> float:
    started = time.perf_counter()
    action(argument)
    return (time.perf_counter() - started) * 1000


def _conversations() -> tuple[Timing, int, int, int, int]:
    from salonbot.db.connection import connect
    from salonbot_dev.fakes.whatsapp import start_fake_whatsapp
    from tests.integration.processor.guided_harness import Customer, guided_harness
    from tests.integration.processor.harness import Clock, import_demo_salon

    url = fresh_database_url()
    fake = start_fake_whatsapp(out=None)
    samples: list[float] = []
    zero = total = booked = 0
    try:
        with connect(url) as conn:
            import_demo_salon(conn)
            clock = Clock()
            harness = guided_harness(conn, fake, clock=clock)
            for n in range(CONVERSATIONS):
                customer = Customer(harness, fake, phone=f"+7900{n:07d}")
                for kind, value in SCRIPT:
                    if kind == "say":
                        samples.append(_timed(customer.say, value))
                        continue
                    # As the salon fills up a day may be full: take the first offer
                    # until the option the script wants appears.
                    for _ in range(3):
                        titles = customer.titles()
                        if not value or any(t.startswith(value) for t in titles):
                            break
                        samples.append(_timed(customer.tap, titles[0]))
                    title = value or customer.titles()[0]
                    samples.append(_timed(customer.tap, title))
                clock.now += dt.timedelta(minutes=1)
            rows: list[dict[str, Any]] = conn.execute(
                "SELECT count(*) AS total, "
                "count(*) FILTER (WHERE prompt_tokens + completion_tokens = 0) AS zero, "
                "count(booking_code) AS booked FROM ai_messages WHERE role = 'assistant'"
            ).fetchall()
            total, zero, booked = rows[0]["total"], rows[0]["zero"], rows[0]["booked"]
            sent = len(fake.sent)
    finally:
        fake.stop()
    return Timing(samples), zero, total, booked, sent


def run() -> list[Row]:
    started = time.perf_counter()
    import salonbot.assistant.parsing  # noqa: F401 - measured: what a cold turn pays

    import_ms = (time.perf_counter() - started) * 1000
    right, phrases, wrong = _parse_accuracy()
    timing, zero, total, booked, sent = _conversations()
    return [
        Row(
            AREA,
            "turn latency median (processor, send included)",
            f"{timing.median_ms:.1f} ms",
            "< 100 ms",
            f"{len(timing.samples_ms)} turns, {CONVERSATIONS} scripted conversations",
        ),
        Row(AREA, "turn latency p95", f"{timing.p95_ms:.1f} ms", "< 250 ms"),
        Row(
            AREA,
            "parse accuracy (phrase table)",
            f"{right}/{phrases} = {100 * right / phrases:.1f}%",
            "100%",
            ("missed: " + "; ".join(wrong)) if wrong else "Russian and English",
        ),
        Row(
            AREA,
            "turns answered with zero tokens",
            f"{zero}/{total} = {100 * zero / max(total, 1):.1f}%",
            "100% without a model",
            f"{booked} replies carried a booking code",
        ),
        Row(AREA, "parser import", f"{import_ms:.0f} ms", "", "rapidfuzz and dateparser lazy"),
        Row(
            AREA,
            "WhatsApp messages sent per booking conversation (without a model)",
            f"{sent / max(booked, 1):.1f}",
            "",
            f"{sent} messages the send API received for {booked} bookings; lists and buttons "
            "save turns (docs/outbound.md#message-costs)",
        ),
    ]
