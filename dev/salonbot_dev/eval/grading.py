"""Grading a trial on the state it leaves, like τ-bench: the customer's live bookings
against `expect.bookings` (exactly: nothing missing, nothing extra), every other booking
against the snapshot taken before the conversation, the statements the customer had to
hear (or must not have heard), the hand-off, and the checks that always apply: the run
never raised, the customer tapped only what was offered, and no message met silence
(while the conversation is with staff the bot is meant to stay quiet)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence
    from zoneinfo import ZoneInfo

    from salonbot_dev.eval.tasks import ExpectedBooking, Task


@dataclass(frozen=True)
class HeldBooking:
    """A booking as grading compares it."""

    phone: str
    service: str
    master: str
    start: dt.datetime
    status: str
    code: str

    def describe(self) -> str:
        return f"{self.service} with {self.master} at {self.start:%Y-%m-%d %H:%M} ({self.code})"


@dataclass
class Observed:
    """What a trial left behind and what happened on the way."""

    mine: list[HeldBooking]  # the customer's live bookings at the end
    others_before: list[HeldBooking]
    others_after: list[HeldBooking]
    said: str  # every reply text, option title and description, one per line
    handed_off: bool
    silent: list[str] = field(default_factory=list)  # customer messages left unanswered
    failure: str | None = None  # the run raised, or a tap found no option


def local(value: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A task's time: without an offset it is the salon's wall clock."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def matches(spec: ExpectedBooking, held: HeldBooking, tz: ZoneInfo) -> bool:
    if spec.service != held.service or (spec.master and spec.master != held.master):
        return False
    if spec.start is not None and local(spec.start, tz) != held.start:
        return False
    if spec.start_after is not None and held.start < local(spec.start_after, tz):
        return False
    return not (spec.start_before is not None and held.start >= local(spec.start_before, tz))


def _pairs(specs: Sequence[ExpectedBooking], held: Sequence[HeldBooking], tz: ZoneInfo) -> bool:
    """Whether each expected booking has its own held booking (a perfect matching)."""
    if not specs:
        return not held
    first, rest = specs[0], specs[1:]
    for index, booking in enumerate(held):
        if matches(first, booking, tz) and _pairs(rest, [*held[:index], *held[index + 1 :]], tz):
            return True
    return False


def describe_spec(spec: ExpectedBooking) -> str:
    when = (
        f"at {spec.start:%Y-%m-%d %H:%M}"
        if spec.start
        else " ".join(
            part
            for part in (
                f"from {spec.start_after:%Y-%m-%d %H:%M}" if spec.start_after else "",
                f"before {spec.start_before:%Y-%m-%d %H:%M}" if spec.start_before else "",
            )
            if part
        )
        or "at any time"
    )
    master = f" with {spec.master}" if spec.master else ""
    return f"{spec.service}{master} {when}"


def _listed(items: Sequence[str]) -> str:
    return "; ".join(items) if items else "none"


def grade(task: Task, observed: Observed, tz: ZoneInfo) -> list[str]:
    """Why the trial failed; an empty list when it passed."""
    reasons: list[str] = []
    if observed.failure:
        reasons.append(observed.failure)
    expect = task.expect
    if expect.bookings is not None and (
        len(expect.bookings) != len(observed.mine) or not _pairs(expect.bookings, observed.mine, tz)
    ):
        reasons.append(
            f"bookings: expected {_listed([describe_spec(s) for s in expect.bookings])}, "
            f"held {_listed([b.describe() for b in observed.mine])}"
        )
    if expect.unchanged_others:
        before, after = set(observed.others_before), set(observed.others_after)
        if before != after:
            gone = [b.describe() + f" [{b.status}]" for b in before - after]
            new = [b.describe() + f" [{b.status}]" for b in after - before]
            reasons.append(
                f"other customers' bookings changed: was {_listed(gone)}, now {_listed(new)}"
            )
    for pattern in expect.mentions:
        if not re.search(pattern, observed.said):
            reasons.append(f"never said /{pattern}/")
    for pattern in expect.not_mentions:
        found = re.search(pattern, observed.said)
        if found:
            reasons.append(f"said /{pattern}/: {found.group(0)!r}")
    if expect.handoff is not None and expect.handoff != observed.handed_off:
        reasons.append(
            "expected a hand-off to staff" if expect.handoff else "handed off to staff unasked"
        )
    for message in observed.silent:
        reasons.append(f"no reply to {message!r}")
    return reasons
