"""Meta's X-Hub-Signature-256: HMAC-SHA256 of the raw request body with the app secret."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for `body`: `sha256=<64 lower-case hex digits>`."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when `header` is Meta's signature of exactly these bytes.

    Compared in constant time; an absent, malformed or non-ASCII header is simply
    invalid. An empty app secret never validates anything."""
    if not header or not app_secret:
        return False
    value = header.strip()
    if not value.lower().startswith(_PREFIX):
        return False
    try:
        given = value[len(_PREFIX) :].lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    expected = sign(body, app_secret)[len(_PREFIX) :].encode("ascii")
    return hmac.compare_digest(given, expected)
