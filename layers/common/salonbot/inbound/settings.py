"""The webhook's settings, read from the environment without pydantic.

`salonbot.config.Settings` stays the one definition of every setting; this is the
webhook's view of the few it uses, with the same variable names, defaults and bounds,
read the same way (names in any case, empty values as unset, integers as pydantic's
lax mode reads them). Building the `Settings` model, and importing pydantic for it, took
about as long as the rest of the webhook's own code, on a cold start Meta waits on. A
unit test compares this class with `Settings` field by field (defaults, bounds, and
what each reads from sample environments), so the two cannot drift apart."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

from salonbot.errors import ConfigurationError
from salonbot.lax import lax_int

if TYPE_CHECKING:
    from collections.abc import Mapping

# Inclusive bounds of the integer settings, as `Settings` declares them (None: unbounded).
BOUNDS: dict[str, tuple[int | None, int | None]] = {
    "max_message_age_s": (60, None),
    "webhook_max_body_bytes": (1024, 6 * 1024 * 1024),
    "webhook_dedupe_ttl_s": (86_400, None),
}


class WebhookSettings(NamedTuple):
    """Immutable, like `Settings` (a named tuple: cheaper to create at import than a
    frozen dataclass)."""

    queue_url: str | None = None
    idempotency_table: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_app_secret_arn: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_verify_token_arn: str | None = None
    max_message_age_s: int = 86_400
    # Larger POST bodies get 413; seen message ids are kept longer than Meta retries.
    webhook_max_body_bytes: int = 3 * 1024 * 1024
    webhook_dedupe_ttl_s: int = 8 * 86_400

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        """Raises `ConfigurationError` naming the variable when a value is not valid."""
        env = os.environ if environ is None else environ
        names = set(cls._fields)
        values: dict[str, Any] = {}
        for key, raw in env.items():
            name = key.lower()
            if name in names and raw != "":
                values[name] = raw
        for name, (low, high) in BOUNDS.items():
            if name in values:
                values[name] = _bounded_int(name, values[name], low, high)
        return cls(**values)


def _bounded_int(name: str, raw: str, low: int | None, high: int | None) -> int:
    try:
        value = lax_int(raw)
    except ValueError:
        value = None
    if value is None or (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ConfigurationError(f"{name.upper()} must be an integer {bounds}, not {raw[:40]!r}")
    return value
