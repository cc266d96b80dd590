"""`Idempotency-Key` on the staff API's POSTs, kept in `staff_requests` (migration 0012).

A POST with a key claims (salon, key) in its own transaction before it acts: the first
request inserts the row and, when it commits, leaves its answer there; a retry finds the
row and gets that answer (`Idempotent-Replayed: true`) without sending or booking again;
a retry racing the first waits on the row (at most `LOCK_WAIT_MS`, then 409); the key
with another route or body is refused (422). A request that fails rolls back with its
claim, so a retry after a 409 or 502 runs again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from salonbot.api.idempotency import HEADER, normalize_key
from salonbot.errors import InvalidInput, RequestInProgress

if TYPE_CHECKING:
    import uuid

    from salonbot.db.connection import Connection

LOCK_WAIT_MS = 2000

__all__ = ["HEADER", "Claim", "claim", "fingerprint", "normalize_key", "remember"]


@dataclass(frozen=True)
class Claim:
    key: str | None
    replay: tuple[int, Any] | None = None  # (status, body) of the first request


def fingerprint(route: str, body: Any) -> str:
    text = json.dumps([route, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(conn: Connection, salon_id: uuid.UUID, raw_key: str | None, request: str) -> Claim:
    """Claim the key in the caller's transaction; `replay` holds the first answer."""
    if raw_key is None:
        return Claim(None)
    key = normalize_key(raw_key)
    conn.execute(f"SET LOCAL lock_timeout = {int(LOCK_WAIT_MS)}")
    try:
        inserted = conn.execute(
            "INSERT INTO staff_requests (salon_id, key, request) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING key",
            (salon_id, key, request),
        ).fetchone()
    except psycopg.errors.LockNotAvailable as exc:
        raise RequestInProgress("a request with this Idempotency-Key is in progress") from exc
    conn.execute("SET LOCAL lock_timeout = 0")
    if inserted is not None:
        return Claim(key)
    row = conn.execute(
        "SELECT request, status_code, response FROM staff_requests "
        "WHERE salon_id = %s AND key = %s",
        (salon_id, key),
    ).fetchone()
    assert row is not None
    if row["request"] != request:
        raise InvalidInput("was already used for a different request", field=HEADER)
    return Claim(key, replay=(int(row["status_code"]), row["response"]))


def remember(conn: Connection, salon_id: uuid.UUID, claimed: Claim, status: int, body: Any) -> None:
    if claimed.key is None:
        return
    conn.execute(
        "UPDATE staff_requests SET status_code = %s, response = %s::jsonb "
        "WHERE salon_id = %s AND key = %s",
        (status, json.dumps(body, ensure_ascii=False, default=str), salon_id, claimed.key),
    )
