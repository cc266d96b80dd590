"""`outbound_messages`: each message the salon starts, claimed before it is sent.

A claim is a committed row, unique per (booking, kind, booking start): of two runs that
want to send the same reminder, the database lets one claim it. A claim is `sending`
until its send's outcome is recorded: `sent` (with the wamid), `failed` (refused for
good), or deleted when the send certainly did not reach WhatsApp (a later run tries
again). A claim left `sending` (the run crashed, or the outcome is unknown) is never
sent again: a customer may miss one reminder, never get two."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from collections.abc import Sequence

    from salonbot.db.connection import Connection

SENDING, SENT, FAILED, UNKNOWN, SKIPPED = "sending", "sent", "failed", "unknown", "skipped"


@dataclass(frozen=True)
class Claim:
    salon_id: uuid.UUID
    booking_id: int
    kind: str
    for_starts_at: dt.datetime
    phone: str  # where it goes; not stored (the booking's client is the customer)
    state: str = SENDING
    form: str | None = None
    template_name: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Outcome:
    claim_id: int
    state: str | None  # SENT, FAILED, UNKNOWN; None: certainly not sent, claim released
    wamid: str | None = None
    error: str | None = None


def claim(conn: Connection, claims: Sequence[Claim]) -> dict[tuple[int, str], int]:
    """Claim these messages in one round trip; {(booking id, kind): claim id} of those
    this call claimed. A booking no longer live at the start it was claimed for (cancelled,
    a no-show, moved since) is not claimed. Expects autocommit: the claim is committed at once."""
    if not claims:
        return {}
    rows = [
        {
            "salon_id": str(c.salon_id),
            "booking_id": c.booking_id,
            "kind": c.kind,
            "for_starts_at": c.for_starts_at.isoformat(),
            "state": c.state,
            "form": c.form,
            "template_name": c.template_name,
            "category": c.category,
        }
        for c in claims
    ]
    result = conn.execute(
        """
        INSERT INTO outbound_messages (salon_id, booking_id, kind, for_starts_at,
                                       state, form, template_name, category)
        SELECT r.salon_id, r.booking_id, r.kind, r.for_starts_at, r.state, r.form,
               r.template_name, r.category
          FROM jsonb_to_recordset(%s::jsonb) AS r(
               salon_id uuid, booking_id bigint, kind text, for_starts_at timestamptz,
               state text, form text, template_name text, category text)
          JOIN bookings b ON b.id = r.booking_id AND b.status IN ('confirmed', 'arrived')
                         AND b.starts_at = r.for_starts_at
        ON CONFLICT (booking_id, kind, for_starts_at) DO NOTHING
        RETURNING id, booking_id, kind
        """,
        (json.dumps(rows),),
    ).fetchall()
    return {(row["booking_id"], row["kind"]): row["id"] for row in result}


def record(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    """Record sends' outcomes in one round trip: sent/failed/unknown rows updated, claims
    whose send certainly did not happen deleted (a later run may claim them again)."""
    if not outcomes:
        return
    rows: list[dict[str, Any]] = [
        {"id": o.claim_id, "state": o.state, "wamid": o.wamid, "error": o.error} for o in outcomes
    ]
    conn.execute(
        """
        WITH r AS (
            SELECT * FROM jsonb_to_recordset(%s::jsonb)
                   AS r(id bigint, state text, wamid text, error text)
        ), released AS (
            DELETE FROM outbound_messages o USING r
             WHERE o.id = r.id AND r.state IS NULL AND o.state = 'sending'
        )
        UPDATE outbound_messages o
           SET state = r.state, wamid = nullif(r.wamid, ''), error = r.error,
               sent_at = CASE WHEN r.state = 'sent' THEN now() END
          FROM r
         WHERE o.id = r.id AND r.state IS NOT NULL AND o.state = 'sending'
        """,
        (json.dumps(rows),),
    )
