"""The one cleaning every text a customer (or the model) gives salonbot goes through
before it is queued, read by an engine or stored.

Three kinds of character are dropped:
- NUL, which PostgreSQL `text` and `jsonb` cannot hold: a message keeping one would fail
  on every delivery and hold back its customer's queue;
- lone surrogates (half of a UTF-16 pair), which UTF-8 cannot encode, so the driver
  refuses them the same way; a pair that arrives as two code points is joined into the
  character it stands for, so an emoji survives;
- the other C0 control characters and DEL, which no chat message means to send; tab,
  line feed and carriage return stay.

Everything else is kept as written (no normalisation): zero-width joiners and variation
selectors are part of emoji, and the guided flow matches what the customer typed.

Plain Python without `re`: the webhook imports this on the cold start Meta waits on."""

from __future__ import annotations

from typing import Any

# C0 controls but tab, line feed and carriage return, and DEL: mapped to nothing.
_CONTROLS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def clean_text(text: str) -> str:
    """`text` without NUL, other control characters (but tab and line breaks) and lone
    surrogates. Idempotent."""
    if text.isprintable():  # no control character, no surrogate: the common case
        return text
    cleaned = text.translate(_CONTROLS)
    try:
        cleaned.encode()
    except UnicodeEncodeError:  # surrogates: pairs joined, lone halves dropped
        cleaned = cleaned.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    return cleaned


def clean_strings(value: Any) -> Any:
    """`value` (decoded JSON: dicts, lists, strings, numbers) with every string, keys
    included, through `clean_text`; tuples come back as lists, as JSON has no tuple."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_strings(k): clean_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_strings(v) for v in value]
    return value
