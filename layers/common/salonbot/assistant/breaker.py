"""The model's circuit breaker: after a failure that no retry can cure, the model is not
called again for a while, and customers go straight to the guided flow.

Two failures open it. `429 insufficient_quota` (the account has no credit, or hit a
spend or usage limit: OpenAI gives these the type `insufficient_quota` and a code naming
which) is not a rate limit: waiting seconds does not help, and every call until someone
pays would fail the same way after the customer waited for it. `401` (the key is wrong,
revoked, or of another organisation) likewise. Any other failure leaves the breaker
alone. The breaker lives in the container (the agent is built once per container), so
each container pays at most one failed call per `OPENAI_BREAKER_MINUTES` per model."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

AccessFailure = Literal["quota", "auth"]

# `error.code` values OpenAI sends with the type `insufficient_quota`.
QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded",
    }
)


def access_failure(exc: BaseException) -> AccessFailure | None:
    """ "quota" or "auth" for a failure that retrying cannot cure; None otherwise."""
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    if exc.status_code == 401:
        return "auth"
    if exc.status_code == 429 and (exc.type == "insufficient_quota" or exc.code in QUOTA_CODES):
        return "quota"
    return None


class ModelBreaker:
    """Per model: open for `minutes` after an access failure, then closed again (the next
    call tries the model; a failure opens it anew)."""

    def __init__(self, minutes: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._seconds = minutes * 60
        self._monotonic = monotonic
        self._open: dict[str, tuple[float, AccessFailure]] = {}
        self._lock = threading.Lock()

    def trip(self, model: str, reason: AccessFailure) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            self._open[model] = (self._monotonic() + self._seconds, reason)

    def open_reason(self, model: str) -> AccessFailure | None:
        """Why calls to `model` are held back now; None when the model may be called."""
        with self._lock:
            held = self._open.get(model)
            if held is None:
                return None
            if self._monotonic() >= held[0]:
                del self._open[model]
                return None
            return held[1]
