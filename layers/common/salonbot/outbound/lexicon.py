"""Words a customer writes to stop or resume the salon's reminders and offers.

Matched on the whole message, in any case, punctuation and spaces around ignored: "STOP",
"Стоп!", " unsubscribe ". A sentence that merely contains the word ("stop by tomorrow?")
is not an opt-out."""

from __future__ import annotations

import re

OPT_OUT_WORDS = frozenset({"stop", "стоп", "отписаться", "unsubscribe", "отписка"})
OPT_IN_WORDS = frozenset({"start", "старт", "подписаться", "subscribe"})
_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def _normalised(text: str | None) -> str:
    return _EDGES.sub("", (text or "").casefold())


def is_opt_out(text: str | None) -> bool:
    return _normalised(text) in OPT_OUT_WORDS


def is_opt_in(text: str | None) -> bool:
    return _normalised(text) in OPT_IN_WORDS
