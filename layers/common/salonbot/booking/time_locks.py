"""Advisory-lock keys for a span of a master's time: two spans conflict exactly when they
overlap, with a handful of keys per span.

Writers of one master's bookings take these locks (transaction-level, so no session state
is left behind for RDS Proxy to pin) before the write, and keep them until their
transaction ends. A lock on the whole day would then hold that day for as long as a
booking turn stays open (the model may still be wording its answer); a lock per minute
would take hundreds of keys. Instead time is cut into aligned power-of-two blocks of
minutes (1, 2, 4, ... up to `TOP_LEVEL`), as in multi-granularity locking:

- a span is covered by the fewest aligned blocks, each locked exclusively;
- every larger block above those is locked shared (an "intention" to lock inside it).

Two blocks containing the same minute are always nested, so two overlapping spans meet
on one block that one holds exclusively and the other holds exclusively or shared: they
conflict. Disjoint spans share at most larger blocks, and only in shared mode: they never
wait on each other. A 70-minute span takes about twenty keys. Keys are taken in
ascending order, so writers never deadlock on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Minutes count from here: 2^26 minutes (a block index fits 26 bits) last until 2127.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
INDEX_BITS = 26
# Blocks go up to 2^10 = 1024 minutes; longer spans take several top-level blocks.
TOP_LEVEL = 10


@dataclass(frozen=True, order=True)
class BlockLock:
    key: int  # level << INDEX_BITS | index: an int4 for pg_advisory_xact_lock(int, int)
    exclusive: bool


def minute_of(moment: dt.datetime) -> int:
    """Whole minutes since EPOCH (booking times are whole minutes)."""
    seconds = (moment - EPOCH).total_seconds()
    if seconds < 0:
        raise ValueError(f"{moment.isoformat()} is before {EPOCH.isoformat()}")
    return int(seconds // 60)


def _key(level: int, index: int) -> int:
    return level << INDEX_BITS | index


def block_locks(start: int, end: int) -> list[BlockLock]:
    """The locks for minutes [start, end), in the order to take them (ascending keys)."""
    if not 0 <= start < end < 1 << INDEX_BITS:
        raise ValueError(f"not a span of minutes: [{start}, {end})")
    exclusive: set[int] = set()
    shared: set[int] = set()
    minute = start
    while minute < end:
        level = 0
        while (
            level < TOP_LEVEL
            and minute % (1 << (level + 1)) == 0
            and minute + (1 << (level + 1)) <= end
        ):
            level += 1
        index = minute >> level
        exclusive.add(_key(level, index))
        for above in range(level + 1, TOP_LEVEL + 1):
            shared.add(_key(above, index >> (above - level)))
        minute += 1 << level
    shared -= exclusive
    return sorted([BlockLock(k, True) for k in exclusive] + [BlockLock(k, False) for k in shared])


def span_locks(starts_at: dt.datetime, ends_at: dt.datetime) -> list[BlockLock]:
    """The locks for [starts_at, ends_at); a partial last minute counts as a whole one."""
    start = minute_of(starts_at)
    end = minute_of(ends_at)
    if (ends_at - EPOCH).total_seconds() > end * 60:
        end += 1
    return block_locks(start, max(end, start + 1))
