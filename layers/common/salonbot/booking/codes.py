"""Booking codes customers read out and type back: short, upper-case, and drawn from an
alphabet without look-alikes (no 0/O, no 1/I), so "my code is A7K2QX" survives a phone
keyboard, a voice message and a handwritten note."""

from __future__ import annotations

import re
import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 6  # 32**6 ≈ 1.07e9 codes: collisions are rare and retried on the unique index

_SEPARATORS = re.compile(r"[\s\-_.#]+")
_VALID = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")


def new_booking_code() -> str:
    """A random code with at least one letter and one digit, so no word ("PLEASE") or
    number ("234567") in a reply is ever mistaken for a code."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if looks_like_code(code):
            return code


def looks_like_code(candidate: str) -> bool:
    """A `LENGTH`-character token of the alphabet mixing letters and digits."""
    return (
        bool(_VALID.match(candidate))
        and any(ch.isdigit() for ch in candidate)
        and any(ch.isalpha() for ch in candidate)
    )


def normalize_booking_code(text: str) -> str:
    """The code as stored, from what a customer typed: case, spaces, dashes and a leading
    '#' do not matter ("a7k-2qx" -> "A7K2QX")."""
    return _SEPARATORS.sub("", text).upper()


def is_booking_code(text: str) -> bool:
    return bool(_VALID.match(normalize_booking_code(text)))
