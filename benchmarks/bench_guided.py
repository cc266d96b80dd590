"""The guided flow without a model: turn latency through the processor (PostgreSQL, the
fake WhatsApp send API), parse accuracy on the phrase table of the unit tests, the share
of a scripted conversation's turns answered at zero tokens, the cost of a 4,000-character
message, and the task corpora (`benchmarks/guided_corpus.py`): the held-out suite
`evals/tasks` when it is there, and the development corpus `evals/dev` the flow was tuned
on, with clean passes, messages per booking, false-availability statements and silent
turns.

Run: `python -m benchmarks guided`."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Row, Timing, fresh_database_url
from salonbot.texts.ru import PHRASES as RU_PHRASES

AREA = "guided"
CONVERSATIONS = 30
REPO = Path(__file__).resolve().parent.parent
CORPORA = (
    ("held-out evals/tasks", REPO / "evals" / "tasks"),
    ("dev evals/dev", REPO / "evals" / "dev"),
)
LONG_MESSAGE_CHARS = 4000
# The guided flow's "join the waitlist" option, as the demo salon's customers read it.
WAITLIST_TITLE = RU_PHRASES["waitlist_join"]


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
                    # (the waitlist button would end the booking: it is never the offer taken)
                    for _ in range(3):
                        titles = [t for t in customer.titles() if t != WAITLIST_TITLE]
                        if not value or any(t.startswith(value) for t in titles):
                            break
                        samples.append(_timed(customer.tap, titles[0]))
                    title = value or next(t for t in customer.titles() if t != WAITLIST_TITLE)
                    samples.append(_timed(customer.tap, title))
                # and one long chatty message: a turn that must not cost seconds
                samples.append(_timed(customer.say, _long_message()))
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


def _long_message() -> str:
    """A chatty 4,000-character message with a booking request (and a date) inside."""
    chatter = (
        "Здравствуйте! Хочу рассказать, как мне у вас понравилось в прошлый раз, 12 ноября, "
        "мастер была очень внимательна, всё аккуратно, подруги до сих пор спрашивают где "
        "делала. "
    )
    request = "Хочу снова на маникюр к Анне в пятницу после обеда, если можно. "
    body = chatter * (LONG_MESSAGE_CHARS // len(chatter))
    return (request + body)[:LONG_MESSAGE_CHARS]


def _long_message_ms() -> tuple[float, float]:
    """Parsing a 4,000-character message: the first time in the process (dateparser's
    import and language data included), then the median of 20 more."""
    from salonbot.assistant.parsing import parse_message
    from tests.unit.guided_phrases import NOW, demo_salon

    salon, text = demo_salon(), _long_message()
    first = _timed(lambda t: parse_message(t, salon, NOW), text)
    again = [_timed(lambda t: parse_message(t, salon, NOW), text) for _ in range(20)]
    return first, sorted(again)[len(again) // 2]


def _morphology_cost() -> tuple[float, float]:
    """pymorphy3 on first use in a fresh interpreter: (ms, MB of resident memory added)."""
    import subprocess
    import sys

    code = (
        "import re, time\n"
        "def rss():\n"
        "    status = open('/proc/self/status').read()\n"
        "    return int(re.search(r'VmRSS:\\s+(\\d+)', status)[1]) / 1024\n"
        "import salonbot.assistant.parsing\n"
        "before = rss()\n"
        "started = time.perf_counter()\n"
        "from salonbot.assistant.morphology import lemma\n"
        "lemma('подстригусь')\n"
        "ms = (time.perf_counter() - started) * 1000\n"
        "print(ms, rss() - before)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def _corpus_rows(name: str, folder: Path) -> list[Row]:
    from benchmarks.guided_corpus import run_corpus
    from salonbot_dev.eval.tasks import task_files

    files = task_files([folder]) if folder.is_dir() else []
    if not files:
        return [Row(AREA, f"corpus ({name})", "n/a", "", f"no task files in {folder.name}/")]
    figures = run_corpus(files)
    conversations, singles = figures.conversations, figures.singles
    median, p90, booked = figures.messages_per_booking()
    named_median, named_p90, named = figures.messages_per_booking(named=True)
    wrong = [s for t in figures.tasks for s in t.false_statements]
    silent = sum(t.silent for t in figures.tasks)
    failing = sorted(t.id for t in figures.tasks if not t.passed)
    must = [t for t in figures.tasks if t.id.endswith("-must")]
    turns = Timing(figures.turn_ms)
    rows = [
        Row(
            AREA,
            f"{name}: clean-pass rate, conversations (3+ messages)",
            figures.share(conversations, "clean"),
            ">= 90%",
            f"passed at all: {figures.share(conversations, 'passed')}",
        ),
        Row(
            AREA,
            f"{name}: clean-pass rate, 1-2 message tasks",
            figures.share(singles, "clean"),
            "",
            f"passed at all: {figures.share(singles, 'passed')}",
        ),
    ]
    if must:
        rows.append(Row(AREA, f"{name}: must set passed", figures.share(must, "passed"), "100%"))
    rows += [
        Row(
            AREA,
            f"{name}: messages per booking, median / p90",
            f"{median:g} / {p90:g}",
            "",
            f"{booked} new bookings reached",
        ),
        Row(
            AREA,
            f"{name}: messages per booking when the first names service and day",
            f"{named_median:g} / {named_p90:g}",
            "median <= 3",
            f"{named} such bookings",
        ),
        Row(
            AREA,
            f"{name}: false-availability statements",
            str(len(wrong)),
            "0",
            "; ".join(wrong[:3]) or "every 'nothing free' checked against the engine",
        ),
        Row(AREA, f"{name}: silent turns", str(silent), "0", "while the bot has the conversation"),
        Row(
            AREA,
            f"{name}: guided turn p95 (engine only)",
            f"{turns.p95_ms:.1f} ms",
            "< 50 ms",
            f"{len(turns.samples_ms)} turns",
        ),
        Row(
            AREA,
            f"{name}: tasks",
            f"{len(figures.tasks)} tasks, {sum(t.messages for t in figures.tasks)} messages",
            "",
            ("not passed: " + ", ".join(failing[:10])) if failing else "all passed",
        ),
    ]
    return rows


def run() -> list[Row]:
    started = time.perf_counter()
    import salonbot.assistant.parsing  # noqa: F401 - measured: what a cold turn pays

    import_ms = (time.perf_counter() - started) * 1000
    right, phrases, wrong = _parse_accuracy()
    long_first, long_again = _long_message_ms()
    morph_ms, morph_mb = _morphology_cost()
    timing, zero, total, booked, sent = _conversations()
    corpora = [row for name, folder in CORPORA for row in _corpus_rows(name, folder)]
    return [
        Row(
            AREA,
            "turn latency median (processor, send included)",
            f"{timing.median_ms:.1f} ms",
            "< 100 ms",
            f"{len(timing.samples_ms)} turns, {CONVERSATIONS} scripted conversations, "
            f"each with a {LONG_MESSAGE_CHARS}-character message",
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
        Row(
            AREA,
            f"{LONG_MESSAGE_CHARS}-character message, parse",
            f"{long_first:.0f} ms first, {long_again:.1f} ms after",
            "not seconds",
            "the first includes loading rapidfuzz, pymorphy3 and dateparser",
        ),
        Row(
            AREA,
            "pymorphy3 first use (fresh interpreter)",
            f"{morph_ms:.0f} ms, +{morph_mb:.0f} MB",
            "",
            "only for a message naming no service plainly; about 16 MB of dictionary in the layer",
        ),
        *corpora,
    ]
