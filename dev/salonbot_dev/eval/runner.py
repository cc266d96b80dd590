"""Running a task: its salon imported into an emptied database, the `before` bookings made,
then the conversation, message by message, through the production processor: each
customer message is the queue body the webhook enqueues (a WhatsApp message of the
salon's number), processed by `MessageProcessor` on a fixed clock, its replies sent over
HTTP to the fake WhatsApp send API and read back from there, as the customer's phone
would show them. The clock starts at the task's `now` and moves `STEP` per message."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput, SalonbotError
from salonbot_dev.eval.grading import HeldBooking, Observed, grade, local
from salonbot_dev.eval.users import Say

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from salonbot.assistant.base import Assistant, TurnInput, TurnResult
    from salonbot.booking.catalog import Salon
    from salonbot.booking.salon_file import SalonFile
    from salonbot.config import Settings
    from salonbot.db.connection import Connection
    from salonbot_dev.eval.tasks import LoadedTasks, Task
    from salonbot_dev.eval.users import Action, Exchange, Simulator
    from salonbot_dev.fakes.customer import Choice, Reply
    from salonbot_dev.fakes.whatsapp import FakeWhatsApp

STEP = dt.timedelta(seconds=5)  # between two customer messages
ACCESS_TOKEN = "EAAG-eval-access-token"
MAX_MESSAGES = 50  # a guard against a simulator that never stops


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class RecordingAssistant:
    """The engine, unchanged, with each turn's result kept for the trial's figures."""

    def __init__(self, engine: Assistant) -> None:
        self.engine = engine
        self.results: list[TurnResult] = []

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        result = self.engine.respond(conn, turn)
        self.results.append(result)
        return result


@dataclass
class Trial:
    passed: bool
    reasons: list[str]
    messages: int  # the customer's
    replies: int  # the salon's
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)
    model_calls: int = 0
    latency_ms: float = 0.0  # processing time, all turns
    max_turn_ms: float = 0.0
    user_tokens: int = 0
    user_model_calls: int = 0
    notes: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": self.reasons,
            "messages": self.messages,
            "replies": self.replies,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": float(self.cost),
            "model_calls": self.model_calls,
            "latency_ms": round(self.latency_ms, 1),
            "max_turn_ms": round(self.max_turn_ms, 1),
            "user_tokens": self.user_tokens,
            "user_model_calls": self.user_model_calls,
            "notes": self.notes,
            "transcript": self.transcript,
        }


def eval_settings(base: Settings, whatsapp_url: str) -> Settings:
    """`base` (the model's settings) pointed at the fake WhatsApp API, with the AWS-backed
    limits off: a trial is one customer, measured, not throttled or capped."""
    return base.model_copy(
        update={
            "whatsapp_api_base_url": whatsapp_url + "/v21.0",
            "whatsapp_access_token": ACCESS_TOKEN,
            "whatsapp_access_token_secret_arn": None,
            "whatsapp_retry_base_s": 0.01,
            "rate_limit_table": None,
            "cost_table": None,
            "staff_topic_arn": None,
            "alert_topic_arn": None,
        }
    )


_SELECT_BOOKINGS = """
SELECT coalesce(c.phone, '') AS phone, s.code AS service, m.code AS master, b.starts_at,
       b.status, b.code
  FROM bookings b
  JOIN clients c ON c.id = b.client_id
  JOIN services s ON s.id = b.service_id
  JOIN masters m ON m.id = b.master_id
"""


def _bookings(conn: Connection, salon: Salon, where: str, *params: Any) -> list[HeldBooking]:
    rows = conn.execute(_SELECT_BOOKINGS + where + " ORDER BY b.id", params).fetchall()
    conn.commit()
    return [
        HeldBooking(
            phone=r["phone"],
            service=r["service"],
            master=r["master"],
            start=r["starts_at"].astimezone(salon.tz),
            status=r["status"],
            code=r["code"],
        )
        for r in rows
    ]


def _handed_off(conn: Connection, conversation: str, now: dt.datetime) -> bool:
    row = conn.execute(
        "SELECT status, handoff_until FROM ai_conversations WHERE id = %s", (conversation,)
    ).fetchone()
    conn.commit()
    if row is None:
        return False
    until = row["handoff_until"]
    return bool(row["status"] == "handoff" and (until is None or until > now))


def said_text(replies: list[Reply]) -> str:
    lines: list[str] = []
    for reply in replies:
        lines.append(reply.text)
        for choice in reply.choices:
            lines.append(choice.title)
            if choice.description:
                lines.append(choice.description)
    return "\n".join(lines)


def find_option(pattern: str, replies: tuple[Reply, ...]) -> Choice | None:
    for reply in replies:
        for choice in reply.choices:
            if re.search(pattern, choice.title):
                return choice
    return None


class TaskRunner:
    """Runs trials on one database and one fake WhatsApp API, for one engine."""

    def __init__(
        self,
        conn: Connection,
        empty: Callable[[], None],
        whatsapp: FakeWhatsApp,
        settings: Settings,
        build_engine: Callable[[Settings, Callable[[], dt.datetime]], Assistant],
    ) -> None:
        from salonbot.whatsapp.client import WhatsAppClient

        self.conn = conn
        self._empty = empty
        self.whatsapp = whatsapp
        self.settings = eval_settings(settings, whatsapp.url)
        self._build_engine = build_engine
        # One client for the run: its TLS setup alone costs more than a guided turn.
        self._client = WhatsAppClient(self.settings)
        self._salons: dict[Path, SalonFile] = {}
        self._ids = itertools.count(1)

    def _salon_file(self, path: Path) -> SalonFile:
        from salonbot.booking.salon_file import load_salon_file

        if path not in self._salons:
            try:
                self._salons[path] = load_salon_file(path)
            except InvalidInput as exc:
                raise InvalidInput(str(exc), f"{path}") from None
        return self._salons[path]

    def _prepare(self, loaded: LoadedTasks, task: Task) -> tuple[Salon, dt.datetime]:
        from salonbot.booking.catalog import load_salon
        from salonbot.booking.importer import import_salon
        from salonbot.booking.store import create_booking

        self._empty()
        self.whatsapp.clear()
        result = import_salon(self.conn, self._salon_file(loaded.salon_path))
        self.conn.commit()
        salon = load_salon(self.conn, result.salon_id)
        if not salon.whatsapp_phone_number_id:
            raise InvalidInput(
                "the salon needs a whatsapp_phone_number_id to be talked to",
                f"{loaded.salon_path}",
            )
        now = local(loaded.now_of(task), salon.tz)
        for index, seed in enumerate(task.before.bookings):
            own = seed.phone is None or seed.phone == task.customer.phone
            try:
                create_booking(
                    self.conn,
                    salon,
                    phone=seed.phone or task.customer.phone,
                    service_code=seed.service,
                    starts_at=local(seed.start, salon.tz),
                    master_code=seed.master,
                    client_name=seed.name or (task.customer.name if own else None),
                    now=now,
                )
            except SalonbotError as exc:
                self.conn.rollback()
                raise InvalidInput(
                    f"cannot be made: {exc}",
                    f"{loaded.path}: task {task.id}: before.bookings[{index}]",
                ) from None
        self.conn.commit()
        return salon, now

    def _body(
        self, salon: Salon, task: Task, clock: Clock, action: Action, choice: Choice | None
    ) -> str:
        from salonbot.whatsapp.events import InboundMessage, InteractiveReply, QueueEnvelope

        interactive = (
            InteractiveReply(kind=choice.kind, id=choice.id, title=choice.title)
            if choice is not None
            else None
        )
        message = InboundMessage(
            phone_number_id=salon.whatsapp_phone_number_id or "",
            message_id=f"wamid.eval.{next(self._ids)}",
            wa_id=task.customer.phone.lstrip("+"),
            timestamp=clock.now,
            type="interactive" if interactive else "text",
            text=action.text if isinstance(action, Say) else None,
            interactive=interactive,
            contact_name=task.customer.name,
        )
        return QueueEnvelope(event=message, enqueued_at=clock.now).model_dump_json()

    def run(self, loaded: LoadedTasks, task: Task, user: Simulator) -> Trial:
        from salonbot.conversation.store import conversation_id
        from salonbot.processing.pipeline import MessageProcessor
        from salonbot.processing.queue import process_queue_body
        from salonbot.processing.staff import StaffNotifier
        from salonbot_dev.eval.users import Exchange
        from salonbot_dev.fakes.customer import reply_from_payload

        salon, now = self._prepare(loaded, task)
        phone = task.customer.phone
        others = "WHERE coalesce(c.phone, '') <> %s"
        others_before = _bookings(self.conn, salon, others, phone)
        clock = Clock(now)
        engine = RecordingAssistant(self._build_engine(self.settings, clock))
        processor = MessageProcessor(
            self.settings,
            assistant=engine,
            whatsapp=self._client,
            staff=StaffNotifier(None),
            connection=lambda: self.conn,
            clock=clock,
        )
        conversation = conversation_id(salon.id, phone)
        history: list[Exchange] = []
        transcript: list[dict[str, Any]] = []
        silent: list[str] = []
        said: list[str] = []
        turn_ms: list[float] = []
        notes: list[str] = []
        failure: str | None = None
        seen = 0
        try:
            while len(history) < MAX_MESSAGES:
                action = user.next_action(history)
                if action is None:
                    break
                choice: Choice | None = None
                if isinstance(action, Say):
                    sent = action.text
                else:
                    offered = history[-1].replies if history else ()
                    choice = find_option(action.pattern, offered)
                    if choice is None:
                        titles = [c.title for r in offered for c in r.choices]
                        failure = (
                            f"message {len(history) + 1}: no option matches "
                            f"/{action.pattern}/ among {titles}"
                        )
                        break
                    sent = choice.title
                transcript.append({"customer": sent, "tap": choice is not None})
                with_staff = _handed_off(self.conn, conversation, clock.now)
                body = self._body(salon, task, clock, action, choice)
                started = time.perf_counter()
                outcome = process_queue_body(body, processor)
                turn_ms.append((time.perf_counter() - started) * 1000)
                delivered = self.whatsapp.sent_to(phone.lstrip("+"))
                replies = tuple(reply_from_payload(m.payload) for m in delivered[seen:])
                seen = len(delivered)
                for reply in replies:
                    transcript.append(
                        {"salon": reply.text, "options": [c.title for c in reply.choices]}
                    )
                said.append(said_text(list(replies)))
                if not replies and not with_staff:
                    silent.append(sent)
                    notes.append(f"message {len(history) + 1}: {outcome}")
                history.append(Exchange(sent, replies))
                clock.now += STEP
            else:
                notes.append(f"stopped after {MAX_MESSAGES} messages")
        except Exception as exc:
            self.conn.rollback()
            failure = f"the run raised {type(exc).__name__}: {exc}"
        mine = _bookings(
            self.conn,
            salon,
            "WHERE c.phone = %s AND b.status = 'confirmed' AND b.ends_at > %s",
            phone,
            clock.now,
        )
        observed = Observed(
            mine=mine,
            others_before=others_before,
            others_after=_bookings(self.conn, salon, others, phone),
            said="\n".join(said),
            handed_off=_handed_off(self.conn, conversation, clock.now),
            silent=silent,
            failure=failure,
        )
        reasons = grade(task, observed, salon.tz)
        results = engine.results
        notes.extend(note for result in results for note in result.notes)
        return Trial(
            passed=not reasons,
            reasons=reasons,
            messages=len(history),
            replies=sum(len(e.replies) for e in history),
            prompt_tokens=sum(r.prompt_tokens for r in results),
            completion_tokens=sum(r.completion_tokens for r in results),
            cost=sum((r.cost for r in results), Decimal(0)),
            model_calls=sum(r.model_calls for r in results),
            latency_ms=sum(turn_ms),
            max_turn_ms=max(turn_ms, default=0.0),
            user_tokens=user.usage.tokens,
            user_model_calls=user.usage.calls,
            notes=sorted(set(notes)),
            transcript=transcript,
        )
