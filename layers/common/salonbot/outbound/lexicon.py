"""Words a customer writes to stop or resume the salon's reminders and offers, and short
answers to a reminder they quote (WhatsApp's reply to a message).

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


# A short answer to a quoted reminder: confirm, cancel or move that booking.
REMINDER_ANSWERS = {
    "confirm": frozenset(
        {
            "да",
            "подтверждаю",
            "подтвердить",
            "буду",
            "приду",
            "ок",
            "ok",
            "okay",
            "yes",
            "confirm",
            "confirmed",
            "i'll be there",
            "will be there",
            "+",
        }
    ),
    "cancel": frozenset(
        {
            "отмена",
            "отменить",
            "отмените",
            "не приду",
            "не смогу",
            "cancel",
            "can't come",
            "cannot come",
        }
    ),
    "move": frozenset(
        {"перенести", "перенесите", "перенос", "другое время", "move", "reschedule", "another time"}
    ),
}


def reminder_answer(text: str | None) -> str | None:
    """`confirm`, `cancel` or `move` for a short answer to a reminder, else None."""
    said = _normalised(text)
    for action, words in REMINDER_ANSWERS.items():
        if said in words:
            return action
    return None
