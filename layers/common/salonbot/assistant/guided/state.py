"""The guided dialogue's state between messages: which question was asked last and what the
customer has chosen so far.

It is saved with the conversation (`ai_conversations.state`, jsonb) with the version of this
shape, the time it was saved and the language, so a new container resumes where the
customer left off. A state of another version, older than the flow's TTL, or not of this
shape is not resumed: the customer starts again (and is told so when they answer an old
question). The JSON keeps the shape the flow has always stored (the same keys, ISO dates,
"HH:MM" times, options as `[id, title]` pairs), so states saved before this model existed
still load."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, ValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping

STATE_VERSION = 1

# The question the customer was asked last.
Step = Literal[
    "menu",  # the main menu
    "service",
    "master",
    "day",
    "time",
    "confirm",  # book or move this slot?
    "bookings",  # a list of the customer's bookings
    "booking",  # what to do with one booking
    "cancel_confirm",
]
Flow = Literal["book", "move"]

# A wall-clock time of day as the customer asked for it, stored as "HH:MM".
Clock = Annotated[dt.time, PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str)]
# An instant stored as Python writes it (an offset, never "Z"), the form option ids carry.
Instant = Annotated[AwareDatetime, PlainSerializer(lambda d: d.isoformat(), return_type=str)]


class GuidedState(BaseModel):
    """What the dialogue remembers; a field left `None` has not been chosen (yet)."""

    model_config = ConfigDict(extra="ignore")

    v: int = STATE_VERSION
    at: Instant | None = None  # when it was saved
    lang: str | None = None  # the language the flow last answered in

    step: Step | None = None
    flow: Flow | None = None  # what the choices below are for
    service: str | None = None
    candidates: list[str] | None = None  # services the customer's words could mean
    master: str | None = None  # a master's code or ANY_MASTER
    day: dt.date | None = None
    page: int = 0  # of the day's times
    wanted: Clock | None = None  # a time asked for, not yet looked up
    after: Clock | None = None  # a part of the day asked for
    before: Clock | None = None
    earliest: bool = False  # the first free time asked for ("самое раннее")
    start: Instant | None = None  # the slot offered for confirmation
    slot_master: str | None = None  # ... and the master who has it
    booking: str | None = None  # the code of the booking being moved or cancelled
    booking_id: int | None = None  # ... its id, free in the availability of its move
    # The options of the last question, so a number or a title typed back answers it.
    options: list[tuple[str, str]] = Field(default_factory=list)

    def clear(self) -> None:
        """Forget everything: the next message starts a new dialogue."""
        self.forget(*_DEFAULTS)

    def forget(self, *names: str) -> None:
        """Drop some choices (back to their defaults)."""
        for name in names:
            default = _DEFAULTS[name]
            setattr(self, name, list(default) if isinstance(default, list) else default)

    def copy_for_step(self) -> GuidedState:
        """A copy a step may change without changing this one. Shallow is enough: values
        are immutable and lists are replaced, never changed in place (a deep copy costs
        more than the rest of the step's bookkeeping)."""
        return self.model_copy(
            update={
                "options": list(self.options),
                "candidates": None if self.candidates is None else list(self.candidates),
            }
        )

    def to_json(self, *, at: dt.datetime, language: str) -> dict[str, Any]:
        """The stored form, stamped with the version, the time and the language; choices
        not made are left out, as they always were."""
        choices = self.model_dump(mode="json", exclude_defaults=True, exclude=_STAMP)
        return {"v": STATE_VERSION, "at": at.isoformat(), "lang": language, **choices}


# Each field's default, read once (pydantic's own lookup inspects the default factory's
# signature on every call).
_DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in GuidedState.model_fields.items()
}
_STAMP = {"v", "at", "lang"}  # written by to_json itself


def load_state(
    saved: Mapping[str, Any], now: dt.datetime, ttl: dt.timedelta
) -> tuple[GuidedState, bool]:
    """The saved state and False, or a fresh one and whether a dialogue was dropped (too
    old, from another version or not of this shape)."""
    if not saved.get("step"):
        return GuidedState(), False
    if saved.get("v") != STATE_VERSION:
        return GuidedState(), True
    try:
        state = GuidedState.model_validate(saved)
    except ValidationError:
        return GuidedState(), True
    if state.at is None or now - state.at > ttl:
        return GuidedState(), True
    return state, False
