"""The time an invocation has left, so a batch never outlasts the function.

The processor takes up to ten records per invocation and a model turn may take up to
`ASSISTANT_DEADLINE_S`; without a shared budget a slow model would let the function time
out part-way, and records never tried would count a receive toward the DLQ. The handler
opens a budget from the Lambda context; a record that starts with too little time left is
handed back to SQS untried, and a turn's model calls stop in time to answer from the
guided flow, commit and send. It sits on the ground floor, beside `errors`, because the
handler, the assistant and the WhatsApp client all read it."""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from salonbot.errors import SalonbotError

if TYPE_CHECKING:
    from collections.abc import Iterator

# Kept back from the model for the guided answer, the commit and the send (with retries).
RESERVE_S = 10.0
# A record that would start with less than this left is handed back untried.
MIN_RECORD_S = 3.0

_deadline: ContextVar[float | None] = ContextVar("invocation_deadline", default=None)


class OutOfTime(SalonbotError):
    """Too little of the invocation is left to process a record: SQS retries it."""


@contextmanager
def invocation(remaining_ms: int) -> Iterator[None]:
    """Everything inside runs against the invocation's end, `remaining_ms` from now."""
    token = _deadline.set(time.monotonic() + remaining_ms / 1000)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_s() -> float | None:
    """Seconds until the invocation ends, or None outside a budgeted invocation."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def check_record_start() -> None:
    left = remaining_s()
    if left is not None and left < MIN_RECORD_S:
        raise OutOfTime(f"{left:.1f} s left in the invocation: record returned to the queue")


def model_deadline(own_deadline: float) -> float:
    """A turn's monotonic deadline for model calls: its own, or earlier when the
    invocation ends sooner (keeping `RESERVE_S` to answer without the model)."""
    deadline = _deadline.get()
    if deadline is None:
        return own_deadline
    return min(own_deadline, deadline - RESERVE_S)
