"""The guided engine over a task corpus (docs/evaluation.md), through the evaluation's
runner (the processor, PostgreSQL, the fake WhatsApp API), with the guided flow audited
turn by turn: every "nothing free" / "not free" it says is checked against the
availability engine on the turn's own desk (inside the turn's transaction), every notice
of a misunderstanding is counted, and each turn is timed.

Figures: clean passes (the task's outcome reached with no misunderstanding: no "did not
understand", no repeated confirmation, no expired choice), messages per booking,
false-availability statements, silent turns (a customer message with no reply while the
bot, not the staff, has the conversation) and the guided turns' latency."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from salonbot.assistant.guided import GuidedAnswer, GuidedMessage
    from salonbot.booking.desk import BookingDesk

# Notices that mean the flow did not understand the customer, or made them repeat.
MISUNDERSTANDINGS = frozenset({"unknown", "unknown_step", "confirm_again", "expired"})


@dataclass
class Audit:
    """What the audited guided flow saw during one task."""

    false_statements: list[str] = field(default_factory=list)
    misunderstandings: int = 0
    turn_ms: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.false_statements.clear()
        self.misunderstandings = 0


def audited_flow(audit: Audit, ttl: dt.timedelta, clock: Callable[[], dt.datetime]) -> Any:
    from salonbot.assistant.guided import GuidedFlow
    from salonbot.assistant.guided import replies as r
    from tests.unit.guided.truth import false_statements

    class AuditedFlow(GuidedFlow):
        def answer(
            self,
            saved: Mapping[str, Any],
            message: GuidedMessage,
            desk: BookingDesk,
            *,
            now: dt.datetime,
            default_language: str,
            interactive: bool = True,
        ) -> GuidedAnswer:
            started = time.perf_counter()
            answer = super().answer(
                saved,
                message,
                desk,
                now=now,
                default_language=default_language,
                interactive=interactive,
            )
            audit.turn_ms.append((time.perf_counter() - started) * 1000)
            moving = answer.state.get("booking_id") or saved.get("booking_id")
            audit.false_statements += false_statements(answer.replies, desk, exclude_booking=moving)
            audit.misunderstandings += sum(
                1 for x in answer.replies if isinstance(x, r.Notice) and x.key in MISUNDERSTANDINGS
            )
            return answer

    return AuditedFlow(state_ttl=ttl, clock=clock)


@dataclass
class TaskFigures:
    id: str
    passed: bool
    clean: bool
    messages: int
    books: bool  # the task expects a booking of the customer
    names_service_and_day: bool  # its first message names both
    silent: int
    false_statements: list[str]
    reasons: list[str]


@dataclass
class CorpusFigures:
    tasks: list[TaskFigures]
    turn_ms: list[float]

    def share(self, tasks: Sequence[TaskFigures], what: str) -> str:
        done = sum(1 for t in tasks if getattr(t, what))
        return f"{done}/{len(tasks)} = {100 * done / max(len(tasks), 1):.1f}%"

    @property
    def conversations(self) -> list[TaskFigures]:
        return [t for t in self.tasks if t.messages >= 3]

    @property
    def singles(self) -> list[TaskFigures]:
        return [t for t in self.tasks if t.messages < 3]

    def messages_per_booking(self, *, named: bool = False) -> tuple[float, float, int]:
        counts = sorted(
            t.messages
            for t in self.tasks
            if t.books and t.passed and (t.names_service_and_day or not named)
        )
        if not counts:
            return 0.0, 0.0, 0
        p90 = counts[min(len(counts) - 1, int(0.9 * len(counts)))]
        return statistics.median(counts), p90, len(counts)


def _names_service_and_day(text: str, salon: Any, now: dt.datetime) -> bool:
    from salonbot.assistant.parsing import parse_message

    parsed = parse_message(text, salon, now)
    return bool(parsed.services) and (parsed.when.date is not None or parsed.when.invalid)


def run_corpus(files: Sequence[Path]) -> CorpusFigures:
    from salonbot.assistant.faq import FaqResponder
    from salonbot.assistant.router import AssistantRouter, WithLastResort
    from salonbot.config import Settings
    from salonbot_dev.cli.eval import processor_output_on_stderr
    from salonbot_dev.eval.database import ScratchDatabase
    from salonbot_dev.eval.grading import local
    from salonbot_dev.eval.runner import TaskRunner
    from salonbot_dev.eval.suite import EvalOptions, selected, simulator
    from salonbot_dev.eval.tasks import load_tasks
    from salonbot_dev.fakes.whatsapp import start_fake_whatsapp
    from tests.fakes.memory_desk import salon_from_file

    settings = Settings.from_env()
    ttl = dt.timedelta(minutes=settings.guided_state_ttl_minutes)
    audit = Audit()

    def engine(_settings: Settings, clock: Callable[[], dt.datetime]) -> AssistantRouter:
        flow = WithLastResort(audited_flow(audit, ttl, clock))
        return AssistantRouter(agent=None, fallback=flow, faq=FaqResponder())

    options = EvalOptions(engine="guided", user="scripted")
    figures: list[TaskFigures] = []
    whatsapp = start_fake_whatsapp(out=None)
    try:
        with processor_output_on_stderr(), ScratchDatabase(None) as database:
            assert database.conn is not None
            runner = TaskRunner(database.conn, database.empty, whatsapp, settings, engine)
            for loaded, task in selected(load_tasks(list(files)), ()):
                audit.reset()
                trial = runner.run(loaded, task, simulator(options, loaded, task))
                salon = salon_from_file(loaded.salon_path)
                first = task.script[0] if task.script else None
                names = isinstance(first, str) and _names_service_and_day(
                    first, salon, local(loaded.now_of(task), salon.tz)
                )
                books = bool(task.expect.bookings) and not task.before.bookings
                figures.append(
                    TaskFigures(
                        id=task.id,
                        passed=trial.passed,
                        clean=trial.passed and audit.misunderstandings == 0,
                        messages=trial.messages,
                        books=books,
                        names_service_and_day=bool(names),
                        silent=_silent(trial.transcript),
                        false_statements=list(audit.false_statements),
                        reasons=list(trial.reasons),
                    )
                )
    finally:
        whatsapp.stop()
    return CorpusFigures(figures, list(audit.turn_ms))


def _silent(transcript: list[dict[str, Any]]) -> int:
    """Customer messages with no reply before the next one, except while with staff (the
    hand-off's notices say so; then the bot stays quiet at a bounded rate by design)."""
    silent, waiting, with_staff = 0, False, False
    for entry in transcript:
        if "customer" in entry:
            if waiting and not with_staff:
                silent += 1
            waiting = True
        else:
            waiting = False
            text = str(entry.get("salon", ""))
            with_staff = _handed_off(text) or (with_staff and not _back(text))
    if waiting and not with_staff:
        silent += 1
    return silent


def _handed_off(text: str) -> bool:
    from salonbot.texts import CATALOGUES

    keys = ("handoff", "handoff_wait", "handoff_ack")
    return any(c[k] in text for c in CATALOGUES.values() for k in keys)


def _back(text: str) -> bool:
    from salonbot.texts import CATALOGUES

    return any(c["menu"] in text for c in CATALOGUES.values())
