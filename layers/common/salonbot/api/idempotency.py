"""`Idempotency-Key` on `POST /api/v1/ai/process-message`, kept in the processing ledger.

A request with a key is a customer message whose id is `api:<salon id>:<key>`: its
`inbound_messages` row is claimed in the transaction of the turn, as the queue
processor claims a WhatsApp message id, and holds the answer given. So a retry (same
salon, same key) finds the row and gets the first answer without a second turn; a
retry racing the first request waits on the row until the first commits (at most
`LOCK_WAIT_MS`, then 409: still in progress, as the IETF draft on the header has it); the
id is also
the turn's message id, which makes its bookings idempotent (`source_message_id`) and its
stored user message unique (`ai_messages.external_id`). The same key with a different
body is refused (422), as the IETF draft on the header suggests.

An API row's `reply` is one item: `{"payload": <the answer>, "state": "sent",
"request": <sha256 of the request>}` with `reply_status = 'sent'` (answered in the HTTP
response; nothing for WhatsApp to send). Retention deletes it with the other finished
ledger rows, so a key is remembered for the ledger's retention (at least 14 days).

Not remembered: an answer that never committed (an error rolls the turn back), and a
429 (throttled with no reply; the turn is rolled back so a retry after `Retry-After`
with the same key is answered)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg

from salonbot.errors import InvalidInput, RequestInProgress
from salonbot.processing import ledger

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from salonbot.api.messages import ProcessedMessage
    from salonbot.db.connection import Connection

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
PREFIX = "api:"
# How long a retry waits for a first request with its key still running (under the
# statement timeout): long enough for the common case, a caller that timed out just as
# its answer was ready.
LOCK_WAIT_MS = 2000


def normalize_key(raw: str) -> str:
    """The key as sent, or as a structured-field string (`"..."`, the IETF draft's form);
    printable ASCII, 1 to 255 characters."""
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not all("!" <= c <= "~" for c in key):
        raise InvalidInput(
            f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces",
            field=HEADER,
        )
    return key


def message_id(salon_id: uuid.UUID, key: str) -> str:
    return f"{PREFIX}{salon_id}:{key}"


def fingerprint(**request: Any) -> str:
    """What makes a retry the same request: the validated fields, salon aside (it is in
    the message id)."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(
    conn: Connection,
    message_id: str,
    *,
    salon_id: uuid.UUID,
    phone: str,
    received_at: dt.datetime,
) -> bool:
    """Claim the key's ledger row in the caller's transaction: True for the first
    request, False when one with the key committed before (see `recall`). A first
    request still running holds the row: wait for it, at most `LOCK_WAIT_MS`, else
    `RequestInProgress` (the caller's transaction is then aborted)."""
    conn.execute(f"SET LOCAL lock_timeout = {int(LOCK_WAIT_MS)}")
    try:
        claimed = ledger.claim(
            conn, message_id=message_id, salon_id=salon_id, phone=phone, received_at=received_at
        )
    except psycopg.errors.LockNotAvailable as exc:
        raise RequestInProgress("a request with this Idempotency-Key is in progress") from exc
    conn.execute("SET LOCAL lock_timeout = 0")
    return claimed


def remember(
    conn: Connection,
    message_id: str,
    done: ProcessedMessage,
    *,
    request: str,
) -> None:
    """Store the answer on the claimed ledger row (in the turn's transaction)."""
    payload = {**dataclasses.asdict(done), "cost": str(done.cost)}
    item = {"payload": payload, "state": "sent", "request": request}
    conn.execute(
        """
        UPDATE inbound_messages
           SET conversation_id = %s, reply = %s::jsonb, reply_status = 'sent', sent_at = now()
         WHERE message_id = %s
        """,
        (done.conversation_id, json.dumps([item], ensure_ascii=False), message_id),
    )


def recall(conn: Connection, message_id: str, *, request: str) -> ProcessedMessage:
    """The answer a committed earlier request with this id got; `InvalidInput` when that
    request was a different one."""
    from salonbot.api.messages import ProcessedMessage

    row = conn.execute(
        "SELECT reply -> 0 AS item FROM inbound_messages WHERE message_id = %s", (message_id,)
    ).fetchone()
    item = (row or {}).get("item") or {}
    if item.get("request") != request:
        raise InvalidInput("was already used for a different request", field=HEADER)
    names = {f.name for f in dataclasses.fields(ProcessedMessage)}
    payload = {k: v for k, v in item["payload"].items() if k in names}
    return ProcessedMessage(**{**payload, "cost": Decimal(payload.get("cost", "0"))})
