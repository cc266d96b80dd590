"""The AI kill switch: model calls stopped for every salon or for one, without a deploy.

It is not the salon file's `ai_enabled: false`, which hands every message to the staff:
while the switch is off the router answers from the guided flow, at zero tokens. The
switch lives in the `ai_switch` table (scope `*` for every salon, or a salon's id), apart
from the salon file, so a re-import never resets it. `salonbot ai off|on` writes it (on a
database, or through AdminFunction); the two scopes are independent: a salon switched
off on its own stays off when the switch for every salon goes back on.

The router reads the whole table (a few rows) once per `CACHE_TTL_S` per container, so a
change reaches every container within that time and costs one query per container per
period, not one per message. A failed read never fails a turn: the last value read is
kept (model calls allowed if none was ever read) and the error is counted."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.errors import UnknownSalon
from salonbot.observability import count_error, logger

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from salonbot.db.connection import Connection

ALL = "*"
# At most this long between `salonbot ai off` and the last container seeing it.
CACHE_TTL_S = 30.0
CHANGED_BY_MAX = 200


@dataclass(frozen=True)
class SwitchState:
    scope: str  # "*" or a salon id
    off: bool
    changed_at: dt.datetime
    changed_by: str

    @property
    def salon_id(self) -> uuid.UUID | None:
        return None if self.scope == ALL else uuid.UUID(self.scope)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "off": self.off,
            "changed_at": self.changed_at.isoformat(),
            "changed_by": self.changed_by,
        }


def scope_of(salon_id: uuid.UUID | None) -> str:
    return ALL if salon_id is None else str(salon_id)


def read_switches(conn: Connection) -> list[SwitchState]:
    """Every switch ever set, `*` first."""
    rows = conn.execute(
        "SELECT scope, off, changed_at, changed_by FROM ai_switch "
        "ORDER BY scope <> '*', changed_at, scope"
    ).fetchall()
    return [SwitchState(**row) for row in rows]


def set_switch(
    conn: Connection, *, off: bool, salon_id: uuid.UUID | None, changed_by: str
) -> SwitchState:
    """Turn model calls off (or back on) for one salon, or every salon when `salon_id`
    is None. Raises UnknownSalon for a salon that does not exist. The caller commits."""
    if salon_id is not None:
        found = conn.execute("SELECT 1 FROM salons WHERE id = %s", (salon_id,)).fetchone()
        if found is None:
            raise UnknownSalon(f"no salon {salon_id}")
    row = conn.execute(
        """INSERT INTO ai_switch (scope, off, changed_at, changed_by)
           VALUES (%s, %s, now(), %s)
           ON CONFLICT (scope) DO UPDATE
              SET off = EXCLUDED.off, changed_at = EXCLUDED.changed_at,
                  changed_by = EXCLUDED.changed_by
           RETURNING scope, off, changed_at, changed_by""",
        (scope_of(salon_id), off, changed_by[:CHANGED_BY_MAX]),
    ).fetchone()
    assert row is not None
    return SwitchState(**row)


def switched_off(states: list[SwitchState], salon_id: uuid.UUID) -> bool:
    off = {state.scope for state in states if state.off}
    return ALL in off or str(salon_id) in off


class AiSwitch:
    """The switch as the router sees it: the table read at most once per `ttl_s`."""

    def __init__(
        self, *, ttl_s: float = CACHE_TTL_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._off: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def is_off(self, conn: Connection, salon_id: uuid.UUID) -> bool:
        """Whether model calls are switched off for this salon. Runs inside the turn's
        transaction, in a savepoint of its own, so a failed read leaves the turn intact."""
        now = self._monotonic()
        with self._lock:
            fresh = self._read_at is not None and now - self._read_at < self._ttl_s
            off = self._off
        if not fresh:
            off = self._refresh(conn, now)
        return ALL in off or str(salon_id) in off

    def _refresh(self, conn: Connection, now: float) -> frozenset[str]:
        try:
            with conn.transaction():
                rows = conn.execute("SELECT scope FROM ai_switch WHERE off").fetchall()
        except Exception as exc:  # a missing table, a timeout, a broken connection
            count_error("ai_switch_read")
            logger.warning(
                "AI switch unreadable: keeping the last value",
                extra={"error": type(exc).__name__, "off": sorted(self._off)},
            )
            with self._lock:
                # Tried now: the next attempt comes after the TTL, not on every message.
                self._read_at = now
                return self._off
        off = frozenset(str(row["scope"]) for row in rows)
        with self._lock:
            self._off, self._read_at = off, now
        return off
