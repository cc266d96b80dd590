"""The evaluation task file (YAML): a salon, a clock, and tasks, each a customer with a
script (for the scripted customer) and instructions (for a model playing the customer),
the bookings that exist before, and what must be true at the end.

Times without an offset are the salon's local time. Every error names the file, the task
and the field (`evals/tasks/x.yaml: task ru-cancel: expect.bookings[0].start: ...`)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from salonbot.booking.store import normalize_phone
from salonbot.errors import InvalidInput

TASK_SUFFIXES = (".yaml", ".yml")


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    return pattern


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except InvalidInput as exc:
        raise ValueError(exc.detail) from None


Regex = Annotated[str, StringConstraints(min_length=1), AfterValidator(_compiles)]
Phone = Annotated[str, AfterValidator(_phone)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
TaskId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(_Strict):
    phone: Phone
    name: str | None = None
    language: Language | None = None


class Tap(_Strict):
    """Tap the option (button or list row) of the salon's last reply whose title matches."""

    tap: Regex


def _step_kind(value: Any) -> str:
    return "<text>" if isinstance(value, str) else "<tap>"


# A text message, or a tap; the tag keeps a bad step's error to its own kind.
Step = Annotated[
    Annotated[Annotated[str, StringConstraints(min_length=1)], Tag("<text>")]
    | Annotated[Tap, Tag("<tap>")],
    Discriminator(_step_kind),
]


class SeedBooking(_Strict):
    """A booking that exists when the conversation starts."""

    service: Code
    start: dt.datetime
    master: Code | None = None
    phone: Phone | None = None  # another customer's; default: the task's customer
    name: str | None = None


class Before(_Strict):
    bookings: list[SeedBooking] = Field(default_factory=list)


class ExpectedBooking(_Strict):
    """One live booking the customer must hold at the end: `start`, or a window
    `start_after` <= start < `start_before` (either bound alone; neither: any time)."""

    service: Code
    master: Code | None = None
    start: dt.datetime | None = None
    start_after: dt.datetime | None = None
    start_before: dt.datetime | None = None

    @model_validator(mode="after")
    def _one_way_to_say_when(self) -> ExpectedBooking:
        if self.start is not None and (self.start_after or self.start_before):
            raise ValueError("give start, or start_after/start_before, not both")
        if self.start_after and self.start_before:
            after, before = self.start_after, self.start_before
            if (after.tzinfo is None) == (before.tzinfo is None) and after >= before:
                raise ValueError("start_after must be before start_before")
        return self


class Expect(_Strict):
    # None: the customer's bookings are not checked; []: they must hold none.
    bookings: list[ExpectedBooking] | None = None
    unchanged_others: bool = True
    mentions: list[Regex] = Field(default_factory=list)
    not_mentions: list[Regex] = Field(default_factory=list)
    handoff: bool | None = None  # None: not checked


class Task(_Strict):
    id: TaskId
    customer: Customer
    instructions: str = ""
    script: list[Step] = Field(default_factory=list)
    before: Before = Field(default_factory=Before)
    expect: Expect = Field(default_factory=Expect)
    now: dt.datetime | None = None  # overrides the file's clock
    language: Language | None = None  # overrides the file's default

    @model_validator(mode="after")
    def _playable(self) -> Task:
        if not self.script and not self.instructions.strip():
            raise ValueError("a task needs a script, instructions, or both")
        return self


class TaskFile(_Strict):
    salon: str  # a salon file, relative to the task file
    now: dt.datetime
    language: Language | None = None
    tasks: list[Task] = Field(min_length=1)

    @field_validator("tasks")
    @classmethod
    def _unique_ids(cls, tasks: list[Task]) -> list[Task]:
        seen: set[str] = set()
        for task in tasks:
            if task.id in seen:
                raise ValueError(f"task id {task.id!r} appears twice")
            seen.add(task.id)
        return tasks


class LoadedTasks(BaseModel):
    """A validated task file with its salon file's path resolved."""

    model_config = ConfigDict(frozen=True)

    path: Path
    salon_path: Path
    file: TaskFile

    @property
    def tasks(self) -> list[Task]:
        return self.file.tasks

    def now_of(self, task: Task) -> dt.datetime:
        return task.now or self.file.now

    def language_of(self, task: Task) -> str | None:
        return task.customer.language or task.language or self.file.language


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """`task ID: field` for an error inside a task, else the field from the top."""
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        raw = data.get("tasks") or []
        item = raw[loc[1]] if loc[1] < len(raw) else None
        task_id = item.get("id") if isinstance(item, dict) else None
        name = f"task {task_id}" if task_id else f"tasks[{loc[1]}]"
        rest = loc[2:]
        # A step's error names its kind (`<text>`, `<tap>`): the reader wants the index.
        rest = tuple(p for p in rest if not (isinstance(p, str) and p.startswith("<")))
        return f"{name}: {_field_path(rest) or 'task'}"
    return _field_path(loc) or "file"


def validate_task_file(data: Any, path: Path) -> LoadedTasks:
    """Validate parsed task data; InvalidInput naming the file, the task and the field."""
    if not isinstance(data, dict):
        raise InvalidInput("a task file must be a mapping with salon, now and tasks", str(path))
    try:
        file = TaskFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        raise InvalidInput(message, f"{path}: {_where(data, tuple(error['loc']))}") from None
    salon_path = (path.parent / file.salon).resolve()
    if not salon_path.is_file():
        raise InvalidInput(f"no salon file at {salon_path}", f"{path}: salon")
    return LoadedTasks(path=path, salon_path=salon_path, file=file)


def load_task_file(path: str | Path) -> LoadedTasks:
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read it: {exc.strerror}", str(file)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}", str(file)) from None
    return validate_task_file(data, file)


def task_files(paths: list[str | Path]) -> list[Path]:
    """The files named, and the task files directly inside the folders named, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in TASK_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidInput("no such file or folder", f"--tasks {path}")
    return found


def load_tasks(paths: list[str | Path]) -> list[LoadedTasks]:
    return [load_task_file(path) for path in task_files(paths)]
