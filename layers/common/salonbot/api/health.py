"""`GET /api/v1/ai/health`: is the service up, can it reach the model and the database.

The model check is a `GET /models` with a short timeout, cached per container for a
minute, so a health poller never adds latency or cost; "connected" means that call
answered. No key and no `OPENAI_BASE_URL` is "not_configured" (customers are still
served by the fallback engine). `ai` reports the kill switch (`salonbot ai off`), read
from the database on every call: `switched_off` for every salon, and how many salons are
switched off on their own (their ids are not public). `warnings` names configuration to
fix that does not stop customers being served (a model the price table does not know).
Secrets never appear in the answer."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from salonbot.assistant.router import MISSING_KEY
from salonbot.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.config import Settings

OpenAIState = Literal["connected", "not_configured", "error"]
DatabaseState = Literal["ok", "error", "not_configured"]

CACHE_TTL_S = 60.0
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class OpenAIStatus:
    state: OpenAIState
    detail: str | None = None


_cache: dict[tuple[str, str | None], tuple[float, OpenAIStatus]] = {}
_cache_lock = threading.Lock()


def reset_cache() -> None:
    with _cache_lock:
        _cache.clear()


def openai_status(
    settings: Settings, *, monotonic: Callable[[], float] = time.monotonic
) -> OpenAIStatus:
    from salonbot.assistant.agent import openai_api_key, openai_client

    try:
        key = openai_api_key(settings)
    except Exception as exc:  # Secrets Manager unreachable or denied
        logger.warning("OpenAI key secret unreadable", extra={"error": type(exc).__name__})
        return OpenAIStatus("error", "the OpenAI API key secret could not be read")
    if key is None:
        return OpenAIStatus("not_configured", MISSING_KEY)
    cache_key = (hashlib.sha256(key.encode()).hexdigest(), settings.openai_base_url)
    now = monotonic()
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached is not None and now - cached[0] < CACHE_TTL_S:
        return cached[1]
    client = openai_client(settings)
    assert client is not None
    status = _probe(client)
    with _cache_lock:
        _cache[cache_key] = (now, status)
    return status


def _probe(client: Any) -> OpenAIStatus:
    import openai

    try:
        client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0).models.list()
    except openai.AuthenticationError:
        return OpenAIStatus("error", "the model API rejected the API key (401)")
    except openai.APIStatusError as exc:
        return OpenAIStatus("error", f"the model API answered HTTP {exc.status_code}")
    except openai.APITimeoutError:
        return OpenAIStatus("error", f"the model API did not answer within {PROBE_TIMEOUT_S:g} s")
    except openai.APIConnectionError:
        return OpenAIStatus("error", "the model API is unreachable")
    except Exception as exc:
        logger.warning("model API check failed", extra={"error": type(exc).__name__})
        return OpenAIStatus("error", "the model API check failed")
    return OpenAIStatus("connected")


def database_status(connection: Callable[[], Any] | None = None) -> DatabaseState:
    from salonbot.db.connection import get_connection, reset_connection
    from salonbot.errors import ConfigurationError

    try:
        conn = (connection or get_connection)()
    except ConfigurationError:
        return "not_configured"
    except Exception as exc:
        logger.warning("database unreachable", extra={"error": type(exc).__name__})
        reset_connection()
        return "error"
    try:
        conn.execute("SELECT 1")
        conn.rollback()
    except Exception as exc:
        logger.warning("database check failed", extra={"error": type(exc).__name__})
        reset_connection()
        return "error"
    return "ok"


UNKNOWN_SWITCH: dict[str, Any] = {"switched_off": None, "salons_switched_off": None, "since": None}


def switch_status(connection: Callable[[], Any] | None = None) -> dict[str, Any]:
    """The kill switch as the health document shows it; nulls when it cannot be read."""
    from salonbot.assistant.switch import ALL, read_switches
    from salonbot.db.connection import get_connection

    try:
        conn = (connection or get_connection)()
        try:
            states = read_switches(conn)
        finally:
            conn.rollback()
    except Exception as exc:  # e.g. the table not migrated yet
        logger.warning("AI switch unreadable", extra={"error": type(exc).__name__})
        return dict(UNKNOWN_SWITCH)
    every = next((s for s in states if s.scope == ALL), None)
    return {
        "switched_off": bool(every and every.off),
        "salons_switched_off": sum(1 for s in states if s.off and s.scope != ALL),
        "since": every.changed_at.isoformat() if every and every.off else None,
    }


def warnings(settings: Settings) -> list[str]:
    """Configuration an operator should fix: a model the price table does not know and
    no OPENAI_PRICE_* (the guard then reserves at the most expensive known rate)."""
    from salonbot.cost.pricing import configured_quote

    warning = configured_quote(settings).warning
    return [warning] if warning else []


def health(
    settings: Settings,
    *,
    connection: Callable[[], Any] | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> dict[str, Any]:
    """The health document. `status` is "ok" when the database answers ("degraded"
    otherwise): without the model the fallback engine still serves customers."""
    model = openai_status(settings)
    database = database_status(connection)
    body: dict[str, Any] = {
        "status": "ok" if database == "ok" else "degraded",
        "service": "ai",
        "timestamp": (now() if now else dt.datetime.now(dt.UTC)).isoformat(),
        "openai": model.state,
        "model": settings.openai_model,
        "database": database,
        "ai": switch_status(connection) if database == "ok" else dict(UNKNOWN_SWITCH),
        "warnings": warnings(settings),
    }
    if model.detail:
        body["detail"] = model.detail
    return body
