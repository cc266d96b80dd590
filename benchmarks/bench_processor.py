"""The AI booking turn through the real processor: a scripted six-turn Russian booking
conversation (greet, ask for a manicure, pick a day, pick a time, confirm, thanks) as
queue bodies into `process_queue_body`, with the processor wired as in production (FAQ
answers, the LLM agent, the guided flow as fallback) on real PostgreSQL with the demo
salon, the real `openai` SDK against a fake model on 127.0.0.1 that answers at once with
scripted tool calls (it reads the tool results, so the booking really happens), and the
fake WhatsApp send API.

Figures: prompt and completion tokens per turn and per conversation, counted on the
request bodies the fake model received (`tests.fakes.tokens`); model calls per turn; SQL
round trips per turn (libpq's protocol trace); processor overhead per message without the
model: each message's wall time minus the time the fake model spent serving its requests
(the SDK's own work and the loopback HTTP stay in the figure), over many repetitions of
the conversation, each with a new customer.

Tokens are compared with a naive agent built from the same conversation and counted with
the same tokenizer: full history (every earlier turn, its tool calls and results too), the
whole salon file in the system prompt, and verbose tool schemas (long descriptions, every
field documented). Each naive ingredient alone is also shown, to say where the saving is.

Run: `python -m benchmarks processor`."""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from benchmarks import bursts as burst_bench
from benchmarks.harness import Row, Timing, count_round_trips, fresh_database_url
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, Step, ToolCall
from tests.fakes.tokens import count_request

if TYPE_CHECKING:
    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection
    from salonbot_dev.fakes.whatsapp import FakeWhatsApp
    from tests.integration.processor.harness import Harness

AREA = "processor"
CONVERSATIONS = 40  # timed repetitions, each with a new customer
WARMUP_CONVERSATIONS = 2
SERVICE = "manicure"

# The customer's side. Turn 4 names the first free time the turn-3 reply offered.
GREETING = "Здравствуйте!"
ASK_SERVICE = "Хочу записаться на маникюр"
PICK_DAY = "А в среду есть время?"
PICK_TIME = "Давайте в {time}"
CONFIRM = "Да, подтверждаю"
THANKS = "Спасибо большое!"
TURNS = 6

_TIME = re.compile(r"\b(\d{1,2}:\d{2})\b")
_CONFIRMATION = re.compile(r"(\d{2})\.(\d{2})\.(\d{4}) в (\d{1,2}:\d{2}), мастер (\S+?)\.")
_NOW = re.compile(r"^Now: \w+ (\d{4}-\d{2}-\d{2}) ", re.M)
_MASTER_LINE = re.compile(r"^(\w+): (\S+) \(", re.M)


# -- the scripted model ---------------------------------------------------------------------


def _call(name: str, **arguments: object) -> Answer:
    return Answer(tool_calls=[ToolCall(name, dict(arguments))])


def _masters(request: ModelRequest) -> dict[str, str]:
    """Master code -> name, read from the system prompt as a model would."""
    return dict(_MASTER_LINE.findall(request.system))


def _today(request: ModelRequest) -> dt.date:
    found = _NOW.search(request.system)
    assert found, "the system prompt names no current date"
    return dt.date.fromisoformat(found[1])


def _last_assistant_text(request: ModelRequest) -> str:
    for message in reversed(request.messages):
        if message.get("role") == "assistant" and message.get("content"):
            return str(message["content"])
    return ""


def _after_tool(request: ModelRequest) -> Answer:
    """The reply that reads the tool result, as the model would write it."""
    calls = request.messages[-2]["tool_calls"]
    name = calls[-1]["function"]["name"]
    result = request.tool_result()
    assert result.get("ok"), result
    names = _masters(request)
    if name == "slots" and "earliest" in result and "free" not in result:
        offers = ", ".join(
            f"{when[8:10]}.{when[5:7]} в {when[11:16]} ({names.get(code, code)})"
            for when, code in (e.rsplit(" ", 1) for e in result["earliest"][:3])
        )
        return Answer(
            f"С удовольствием запишу вас на маникюр! Ближайшее свободное время: {offers}. "
            "Подойдёт что-то из этого или подобрать другой день?"
        )
    if name == "slots":
        day = dt.date.fromisoformat(result["date"])
        free = "; ".join(
            f"{names.get(code, code)}: {', '.join(runs)}" for code, runs in result["free"].items()
        )
        return Answer(f"На {day:%d.%m} свободно — {free}. Во сколько вам удобно?")
    if name == "book":
        booked = result["booked"]
        return Answer(
            f"Готово! Вы записаны на {booked['service'].lower()} {booked['start']}, "
            f"мастер {booked['master']}. Код записи: {booked['code']}. Ждём вас!"
        )
    raise AssertionError(f"no scripted reply after {name}")


def scripted_model(request: ModelRequest) -> Step:
    """One step per request: a tool call or a reply, from what the request holds."""
    if request.messages and request.messages[-1].get("role") == "tool":
        return _after_tool(request)
    text = request.last_user_text().lower()
    if "спасибо" in text:
        return Answer("Пожалуйста! Хорошего дня, до встречи в салоне.")
    if "подтвержд" in text or re.match(r"да\b", text):
        found = _CONFIRMATION.search(_last_assistant_text(request))
        assert found, "nothing to confirm"
        day, month, year, at, master_name = found.groups()
        code = {name: code for code, name in _masters(request).items()}[master_name]
        return _call("book", service=SERVICE, start=f"{year}-{month}-{day} {at}", master=code)
    if "сред" in text:
        today = _today(request)
        wednesday = today + dt.timedelta(days=(2 - today.weekday()) % 7 or 7)
        return _call("slots", service=SERVICE, date=wednesday.isoformat())
    if (at := _TIME.search(text)) is not None:
        offered = _last_assistant_text(request)
        day = re.search(r"На (\d{2})\.(\d{2})", offered)
        assert day, "no day was offered"
        master = next(
            name for name in _masters(request).values() if name in offered.split(at[1])[0]
        )
        year = _today(request).year
        return Answer(
            f"Записываю вас на маникюр {day[1]}.{day[2]}.{year} в {at[1]}, мастер {master}. "
            "Подтверждаете?"
        )
    if "маникюр" in text:
        return _call("slots", service=SERVICE)
    if "здравств" in text or "привет" in text:
        return Answer("Здравствуйте! Я помощник салона. Чем могу помочь?")
    raise AssertionError(f"unscripted customer message {text!r}")


class TimedFakeOpenAI(FakeOpenAI):
    """The fake model answering every request with `scripted_model`, timing how long it
    serves each request (reading the body, counting tokens, scripting, writing)."""

    def __init__(self) -> None:
        super().__init__()
        self.server_seconds = 0.0
        self._timing_lock = threading.Lock()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.perf_counter()
        self.add(scripted_model)
        super()._handle(handler)
        with self._timing_lock:
            self.server_seconds += time.perf_counter() - started


# -- the naive agent, for the token comparison ------------------------------------------


def _describe(text: str) -> dict[str, Any]:
    return {"type": "string", "description": text}


_START_DOC = (
    "The start date and time of the appointment in the salon's local time zone, formatted as "
    "YYYY-MM-DD HH:MM (24-hour clock), for example 2030-01-08 15:00. It must be one of the "
    "free start times previously returned by the find_free_slots function."
)
_MASTER_DOC = (
    "Optional. The unique code of the master (stylist, nail technician or barber) the "
    "customer wants, as listed in the salon's catalogue. Leave it out if the customer has no "
    "preference, and any available master who performs the service will be chosen."
)
_SERVICE_DOC = (
    "The unique code of the service the customer wants, exactly as listed in the salon's "
    "catalogue (for example 'manicure' or 'haircut_men'). Do not pass the display name."
)
_CODE_DOC = (
    "The booking code (confirmation code) of an existing booking of this customer, as "
    "returned when it was created or listed by get_customer_bookings."
)


def _verbose(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


NAIVE_TOOLS: list[dict[str, Any]] = [
    _verbose(
        "list_services",
        "Get the complete list of services offered by the salon, with their codes, names, "
        "durations in minutes, prices in the salon's currency and the masters who perform "
        "each service. Use this when the customer asks what the salon offers or how much "
        "something costs.",
        {},
        [],
    ),
    _verbose(
        "find_free_slots",
        "Find free appointment start times for a service. If a date is given, returns every "
        "free start time on that date for each master who performs the service. If no date "
        "is given, returns the earliest free start times within the booking horizon. Always "
        "call this before offering times to the customer; never invent times.",
        {
            "service_code": _describe(_SERVICE_DOC),
            "date": _describe(
                "Optional. The date to search, in the salon's local time zone, formatted as "
                "YYYY-MM-DD, for example 2030-01-08. Leave it out to get the earliest slots."
            ),
            "master_code": _describe(_MASTER_DOC),
        },
        ["service_code"],
    ),
    _verbose(
        "create_booking",
        "Create a new booking (appointment) for the current customer. Only call this after "
        "the customer has chosen the service, the date and the time and has confirmed. "
        "Returns the booking with its booking code, or an error with alternative times if "
        "the slot is no longer free.",
        {
            "service_code": _describe(_SERVICE_DOC),
            "start_time": _describe(_START_DOC),
            "master_code": _describe(_MASTER_DOC),
            "customer_name": _describe(
                "Optional. The customer's name as they introduced themselves, stored with "
                "the booking so the salon staff know whom to expect."
            ),
            "notes": _describe(
                "Optional. Any wishes or notes from the customer for the master, such as a "
                "preferred design or an allergy."
            ),
        },
        ["service_code", "start_time"],
    ),
    _verbose(
        "move_booking",
        "Move (reschedule) an existing booking of the current customer to another start "
        "time, and optionally to another master. Returns the updated booking, or an error "
        "with alternative times if the new slot is not free.",
        {
            "booking_code": _describe(_CODE_DOC),
            "new_start_time": _describe(_START_DOC),
            "master_code": _describe(_MASTER_DOC),
        },
        ["booking_code", "new_start_time"],
    ),
    _verbose(
        "cancel_booking",
        "Cancel an existing booking of the current customer. Ask the customer to confirm "
        "before cancelling. Returns the cancelled booking.",
        {
            "booking_code": _describe(_CODE_DOC),
            "reason": _describe("Optional. Why the customer cancels, for the salon's records."),
        },
        ["booking_code"],
    ),
    _verbose(
        "get_customer_bookings",
        "List the current customer's upcoming bookings at this salon, with their booking "
        "codes, services, masters, start times and prices.",
        {},
        [],
    ),
    _verbose(
        "handoff_to_human",
        "Pass the conversation to the salon's staff. Use this when the customer asks to talk "
        "to a person, complains, or asks for something the other functions cannot do.",
        {
            "reason": _describe(
                "A short explanation of why the conversation is handed to the staff, so "
                "they can pick it up without reading the whole history."
            )
        },
        [],
    ),
]

NAIVE_RULES = """You are a friendly and professional virtual assistant for a beauty salon.
You talk to the salon's customers on WhatsApp and help them with questions about the
salon's services, prices, masters and opening hours, and you book, reschedule and cancel
their appointments using the functions available to you.

Guidelines:
- Always reply in the same language the customer writes in.
- Keep your replies short, warm and polite, suitable for WhatsApp messages.
- Only offer appointment times that a function returned; never invent times or prices.
- Before creating a booking, make sure you know the service, the date and the time, and
  that the customer has confirmed; the master is optional.
- Only tell the customer that a booking was created, moved or cancelled after the
  function returned success, and always give them the booking code.
- If the chosen time is no longer available, offer the alternative times returned.
- All times are in the salon's local time zone.
- If the customer asks for a human, or for something you cannot do, hand the
  conversation over to the salon's staff."""


def naive_system_prompt(salon_file: dict[str, Any], now: dt.datetime) -> str:
    """The whole salon file in the prompt, as a naive agent would put it."""
    catalogue = json.dumps(salon_file, ensure_ascii=False, indent=2, default=str)
    return (
        f"{NAIVE_RULES}\n\nHere is everything about the salon (services, masters, working "
        f"hours, days off, policies):\n{catalogue}\n\n"
        f"The current date and time is {now:%A, %d %B %Y, %H:%M} ({salon_file['timezone']})."
    )


def _turn_start(messages: list[dict[str, Any]]) -> int:
    """Index of the turn's user message: what comes before it is the system prompt and
    the history window, from it on what the turn added."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    raise AssertionError("a request without a user message")


@dataclass
class TurnRecord:
    text: str
    requests: list[ModelRequest]
    reply: str
    round_trips: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Variant:
    """A prompt recipe: which parts are ours and which are the naive agent's."""

    label: str
    system: bool  # the whole salon file in the prompt
    tools: bool  # verbose schemas
    history: bool  # every earlier turn, tool calls and results included
    per_turn: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.per_turn)


def rebuild(
    turns: list[TurnRecord], variant: Variant, salon_file: dict[str, Any], now: dt.datetime
) -> None:
    """Rebuild every request of the conversation under the recipe, counting its tokens."""
    naive_system = {"role": "system", "content": naive_system_prompt(salon_file, now)}
    transcript: list[dict[str, Any]] = []  # the whole conversation, for full history
    for turn in turns:
        tokens = 0
        for request in turn.requests:
            ours = request.messages
            start = _turn_start(ours)
            system = naive_system if variant.system else ours[0]
            history = transcript if variant.history else ours[1:start]
            body = {
                "model": request.body.get("model"),
                "messages": [system, *history, *ours[start:]],
                "tools": NAIVE_TOOLS if variant.tools else request.body.get("tools"),
            }
            tokens += count_request(body)
        variant.per_turn.append(tokens)
        last = turn.requests[-1].messages
        transcript.extend(last[_turn_start(last) :])
        transcript.append({"role": "assistant", "content": turn.reply})


# -- driving the processor ---------------------------------------------------------------


@dataclass
class Setup:
    conn: Connection
    salon: Salon
    harness: Harness
    model: TimedFakeOpenAI
    whatsapp: FakeWhatsApp
    salon_file: dict[str, Any]


def _customer_texts(reply_to_day: str) -> str:
    found = _TIME.search(reply_to_day.split("—", 1)[-1])
    assert found, f"no time offered in {reply_to_day!r}"
    return PICK_TIME.format(time=found[1])


def converse(
    setup: Setup, phone: str, *, count_trips: bool = False
) -> tuple[list[TurnRecord], list[float], str]:
    """One conversation; per turn its record and its time without the model (ms); the
    booking code it made."""
    from salonbot.processing.pipeline import REPLIED

    harness, model, whatsapp = setup.harness, setup.model, setup.whatsapp
    records: list[TurnRecord] = []
    overhead: list[float] = []
    texts = [GREETING, ASK_SERVICE, PICK_DAY, "", CONFIRM, THANKS]
    for index, text in enumerate(texts):
        if index == 3:
            text = _customer_texts(records[2].reply)
        body = harness.body(text, phone=phone)
        first_request = len(model.requests)
        served_before = model.server_seconds
        trips = 0
        if count_trips:
            with count_round_trips(setup.conn) as counted:
                outcome = harness.process(body)
            trips = counted.count
        else:
            started = time.perf_counter()
            outcome = harness.process(body)
            elapsed = time.perf_counter() - started
            overhead.append((elapsed - (model.server_seconds - served_before)) * 1000)
        assert outcome == REPLIED, outcome
        replies = whatsapp.texts_to(phone)
        records.append(
            TurnRecord(text, model.requests[first_request:], replies[-1], round_trips=trips)
        )
    assert len(whatsapp.texts_to(phone)) == TURNS
    stored = setup.conn.execute(
        "SELECT m.prompt_tokens, m.completion_tokens, m.booking_code FROM ai_messages m "
        "JOIN ai_conversations c ON c.id = m.conversation_id "
        "WHERE c.phone_number = %s AND m.role = 'assistant' ORDER BY m.id",
        (phone,),
    ).fetchall()
    setup.conn.commit()
    assert len(stored) == TURNS
    for record, row in zip(records, stored, strict=True):
        record.prompt_tokens = row["prompt_tokens"]
        record.completion_tokens = row["completion_tokens"]
        # What the processor stored is what the fake counted on the bodies it received.
        assert record.prompt_tokens == sum(r.prompt_tokens for r in record.requests)
    codes = [row["booking_code"] for row in stored if row["booking_code"]]
    assert len(codes) == 1, f"expected one booking, got {codes}"
    return records, overhead, codes[0]


def _release(setup: Setup, phone: str, code: str) -> None:
    """Cancel the conversation's booking (outside the measurement) so every repetition
    sees the same free slots and sends the same tokens."""
    from salonbot.booking.store import cancel_booking
    from tests.integration.processor.harness import NOW

    cancel_booking(setup.conn, setup.salon, phone=phone, code=code, now=NOW)
    setup.conn.commit()


def _past_visit(setup: Setup, phone: str) -> None:
    """A manicure with the first master a week before: the customer returns."""
    import datetime as dt

    from tests.integration.processor.harness import NOW

    service = setup.salon.service("manicure")
    master = setup.salon.masters_for(service)[0]
    start = NOW - dt.timedelta(days=7)
    end = start + dt.timedelta(minutes=service.duration_minutes)
    setup.conn.execute(
        """
        WITH client AS (INSERT INTO clients (salon_id, phone) VALUES (%(salon)s, %(phone)s)
                        RETURNING id)
        INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, starts_at,
                              ends_at, blocked_until, price, status)
        SELECT 'PAST' || substr(md5(%(phone)s), 1, 4), %(salon)s, %(master)s, %(service)s,
               client.id, %(start)s, %(end)s, %(end)s, %(price)s, 'completed'
          FROM client
        """,
        {"salon": setup.salon.id, "phone": phone, "master": master.id, "service": service.id,
         "start": start, "end": end, "price": service.price},
    )  # fmt: skip
    setup.conn.commit()


def _build(conn: Connection, model: TimedFakeOpenAI, whatsapp: FakeWhatsApp) -> Setup:
    from salonbot.assistant.faq import FaqResponder
    from salonbot.assistant.router import fallback_engine
    from salonbot.assistant.switch import AiSwitch
    from tests.integration.processor.harness import (
        build_harness,
        demo_salon_data,
        import_demo_salon,
        settings_for,
    )

    salon = import_demo_salon(conn)
    settings = settings_for(model, whatsapp)
    harness = build_harness(conn, settings)
    # As production wires the router (`build_router`): FAQ answers first, the guided flow
    # as fallback; the agent's spend guard has no DynamoDB behind it here.
    assert harness.router.agent is not None
    harness.router.fallback = fallback_engine(settings)
    harness.router.faq = FaqResponder()
    harness.router.switch = AiSwitch()
    return Setup(conn, salon, harness, model, whatsapp, demo_salon_data())


def _spread(values: list[int]) -> str:
    return " / ".join(str(v) for v in values)


def run() -> list[Row]:
    from salonbot.db.connection import connect
    from salonbot_dev.fakes.whatsapp import start_fake_whatsapp

    url = fresh_database_url()
    model = TimedFakeOpenAI()
    model.start()
    whatsapp = start_fake_whatsapp(out=None)
    try:
        with connect(url) as conn:
            setup = _build(conn, model, whatsapp)
            customers = (f"+7901{n:07d}" for n in range(10_000))
            for _ in range(WARMUP_CONVERSATIONS):
                phone = next(customers)
                _, _, code = converse(setup, phone)
                _release(setup, phone, code)
            phone = next(customers)
            turns, _, code = converse(setup, phone, count_trips=True)
            sent = len(whatsapp.sent_to(phone))
            _release(setup, phone, code)
            # The same conversation from a customer with a past visit (its line in the prompt).
            phone = next(customers)
            _past_visit(setup, phone)
            returning, _, code = converse(setup, phone)
            _release(setup, phone, code)
            samples: list[float] = []
            for _ in range(CONVERSATIONS):
                phone = next(customers)
                _, overhead, code = converse(setup, phone)
                _release(setup, phone, code)
                samples.extend(overhead)
            if model.unscripted or model.script_errors:
                raise RuntimeError(f"the scripted model failed: {model.script_errors}")
            burst_rows = burst_bench.rows(conn, model, whatsapp)
    finally:
        model.stop()
        whatsapp.stop()
    rows = _rows(turns, Timing(samples), setup.salon_file, returning) + burst_rows
    rows.append(
        Row(
            AREA,
            "WhatsApp messages sent per booking conversation (with a model)",
            f"{sent} ({sent / len(turns):.1f} per turn)",
            "",
            "replies the send API received for the 6-turn conversation; each is billed "
            "where WhatsApp bills service messages (docs/outbound.md#message-costs)",
        )
    )
    return rows


def _rows(
    turns: list[TurnRecord],
    timing: Timing,
    salon_file: dict[str, Any],
    returning: list[TurnRecord],
) -> list[Row]:
    calls = [len(t.requests) for t in turns]
    prompt = [t.prompt_tokens for t in turns]
    completion = [t.completion_tokens for t in turns]
    trips = [t.round_trips for t in turns]
    from tests.integration.processor.harness import NOW

    now = NOW
    naive = Variant("naive", system=True, tools=True, history=True)
    variants = [
        Variant("whole salon file in the prompt", system=True, tools=False, history=False),
        Variant("verbose tool schemas", system=False, tools=True, history=False),
        Variant("full history", system=False, tools=False, history=True),
    ]
    ours = Variant("ours", system=False, tools=False, history=False)
    for variant in (naive, ours, *variants):
        rebuild(turns, variant, salon_file, now)
    if ours.per_turn != prompt:
        raise RuntimeError("rebuilding our own requests does not give the counted tokens")
    ratio = sum(prompt) / naive.total
    turn_names = "greet / ask manicure / pick day / pick time / confirm / thanks"
    rows = [
        Row(
            AREA,
            "prompt tokens per turn",
            _spread(prompt),
            "",
            f"{turn_names}; counted on the request bodies the fake model received",
        ),
        Row(AREA, "completion tokens per turn", _spread(completion), "", turn_names),
        Row(
            AREA,
            "tokens per conversation (prompt + completion)",
            f"{sum(prompt)} + {sum(completion)} = {sum(prompt) + sum(completion)}",
            "",
            f"6 turns, {sum(calls)} model calls, 1 booking",
        ),
        Row(
            AREA,
            "prompt tokens per conversation, a customer with a past visit",
            f"{sum(t.prompt_tokens for t in returning)} "
            f"(+{sum(t.prompt_tokens for t in returning) / sum(prompt) - 1:.1%})",
            "< +5%",
            "the same conversation; the model reads the customer's last visit in one line",
        ),
        Row(
            AREA,
            "naive baseline prompt tokens per conversation",
            f"{naive.total} ({_spread(naive.per_turn)})",
            "",
            "full history with tool messages + whole salon file in the prompt + verbose "
            "tool schemas; same conversation, same tokenizer; completions identical",
        ),
        Row(
            AREA,
            "prompt tokens: ours / naive",
            f"{ratio:.2f} ({sum(prompt)} / {naive.total})",
            "<= 0.50",
            "naive parts one at a time over ours: "
            + "; ".join(f"{v.label} +{v.total - ours.total}" for v in variants),
        ),
        Row(
            AREA,
            "model calls per turn: max / mean",
            f"{max(calls)} / {statistics.mean(calls):.2f}",
            "max <= 2",
            f"per turn {_spread(calls)}",
        ),
        Row(
            AREA,
            "SQL round trips per turn",
            _spread(trips),
            "",
            f"max {max(trips)}, mean {statistics.mean(trips):.1f}; BEGIN/COMMIT, ledger, "
            "conversation, history, tools, reply send states included",
        ),
        Row(
            AREA,
            "processor overhead per message without the model: median / p95",
            f"{timing.median_ms:.1f} / {timing.p95_ms:.1f} ms",
            "median < 30 ms",
            f"{len(timing.samples_ms)} messages, {CONVERSATIONS} conversations with new "
            "customers; wall time minus the fake model's serving time (SDK, loopback HTTP, "
            "SQL and the WhatsApp send to a local fake included)",
        ),
    ]
    return rows
