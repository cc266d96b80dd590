"""An evaluation run: every task of the task files, `trials` times each, on one scratch
database and one fake WhatsApp API, with the engine and the customer chosen."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from salonbot.errors import InvalidInput
from salonbot_dev.eval.engines import ENGINES, build_engine, uses_model
from salonbot_dev.eval.report import Report, TaskOutcome
from salonbot_dev.eval.runner import TaskRunner
from salonbot_dev.eval.users import (
    DEFAULT_MAX_TURNS,
    USERS,
    ModelUser,
    ModelUserConfig,
    ScriptedUser,
    Simulator,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from salonbot.config import Settings
    from salonbot_dev.eval.tasks import LoadedTasks, Task


@dataclass(frozen=True)
class EvalOptions:
    engine: str = "router"
    user: str = "scripted"
    trials: int = 1
    model_user: ModelUserConfig | None = None  # for user="model"
    max_turns: int = DEFAULT_MAX_TURNS
    only: tuple[str, ...] = ()  # task ids; empty: every task

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise InvalidInput(f"one of {', '.join(ENGINES)}", "--engine")
        if self.user not in USERS:
            raise InvalidInput(f"one of {', '.join(USERS)}", "--user")
        if self.trials < 1:
            raise InvalidInput("at least 1", "--trials")
        if self.max_turns < 1:
            raise InvalidInput("at least 1", "--max-turns")
        if self.user == "model" and self.model_user is None:
            raise InvalidInput(
                "a model plays the customer: set EVAL_USER_MODEL (and EVAL_USER_BASE_URL, "
                "EVAL_USER_API_KEY for an endpoint other than OpenAI's)",
                "--user model",
            )


def selected(files: Sequence[LoadedTasks], only: Sequence[str]) -> list[tuple[LoadedTasks, Task]]:
    """The tasks to run, in file order; an id twice across files, or one asked for that no
    file has, is an error."""
    chosen: list[tuple[LoadedTasks, Task]] = []
    where: dict[str, LoadedTasks] = {}
    for loaded in files:
        for task in loaded.tasks:
            if task.id in where:
                raise InvalidInput(
                    f"task id {task.id!r} is also in {where[task.id].path}", f"{loaded.path}"
                )
            where[task.id] = loaded
            if not only or task.id in only:
                chosen.append((loaded, task))
    missing = sorted(set(only) - set(where))
    if missing:
        raise InvalidInput(f"no such task: {', '.join(missing)}", "--only")
    return chosen


def require_instructions(chosen: Sequence[tuple[LoadedTasks, Task]]) -> None:
    """A model customer plays from `instructions`: a task without them cannot be played."""
    missing = [f"{loaded.path}: task {task.id}" for loaded, task in chosen if not task.instructions]
    if missing:
        raise InvalidInput(
            "a model customer needs the task's instructions: " + ", ".join(missing), "--user model"
        )


def simulator(options: EvalOptions, loaded: LoadedTasks, task: Task) -> Simulator:
    if options.user == "scripted":
        return ScriptedUser(task.script)
    assert options.model_user is not None
    return ModelUser(
        options.model_user.client(),
        options.model_user.model,
        task,
        language=loaded.language_of(task),
        max_turns=options.max_turns,
    )


def evaluate(
    files: Sequence[LoadedTasks],
    options: EvalOptions,
    settings: Settings,
    *,
    server_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run the tasks; `server_url` hosts the scratch database (default: an embedded
    PostgreSQL), `settings` configure the model (OPENAI_*)."""
    from salonbot_dev.eval.database import ScratchDatabase
    from salonbot_dev.fakes.whatsapp import start_fake_whatsapp

    options.check()
    chosen = selected(files, options.only)
    if options.user == "model":
        require_instructions(chosen)
    with_model = uses_model(options.engine, settings)  # before a database starts for nothing
    started = time.perf_counter()
    outcomes: list[TaskOutcome] = []
    whatsapp = start_fake_whatsapp(out=None)
    try:
        with ScratchDatabase(server_url) as database:
            assert database.conn is not None
            runner = TaskRunner(
                database.conn,
                database.empty,
                whatsapp,
                settings,
                lambda s, clock: build_engine(options.engine, s, clock),
            )
            for loaded, task in chosen:
                outcome = TaskOutcome(task.id, str(loaded.path))
                for _ in range(options.trials):
                    trial = runner.run(loaded, task, simulator(options, loaded, task))
                    outcome.trials.append(trial)
                outcomes.append(outcome)
                if progress is not None:
                    marks = "".join("✓" if t.passed else "✗" for t in outcome.trials)
                    progress(f"{task.id} {marks}")
    finally:
        whatsapp.stop()
    return Report(
        engine=options.engine,
        user=options.user,
        trials=options.trials,
        model=settings.openai_model if with_model else None,
        tasks=outcomes,
        wall_s=time.perf_counter() - started,
    )
