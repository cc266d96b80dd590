"""Integers read as pydantic's lax mode reads them, without importing pydantic.

Meta's webhook payload (timestamps are strings of digits) and the webhook's settings
(environment variables are text) both take an integer in any of the forms pydantic's
lax mode accepts; the webhook cannot import pydantic for it (cold start). One definition
here, on the ground floor, so the payload parser and the settings read alike."""

from __future__ import annotations

import math
import re
from typing import Any

# An integer as text: digits with single underscores between them, an optional sign and
# an optional fraction of zeros; surrounded by any Unicode white space.
_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_INT64 = 2**63


def lax_int(value: Any) -> int:
    """An integer from JSON or the environment: an int (or bool), an integral float
    within 64 bits, or text such as `" 1_700_000_000 "` or `"42.0"`. Raises ValueError."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and -_INT64 < value < _INT64:
            return int(value)
        raise ValueError("not an integer")
    if isinstance(value, str):
        number = value.strip(_WHITESPACE)
        if _INT_TEXT.fullmatch(number):
            return int(number.split(".")[0])  # too many digits: ValueError
        raise ValueError("not an integer")
    raise ValueError("not an integer")
