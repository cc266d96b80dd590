"""The advisory-lock keys for a master's time: two spans wait on each other exactly when
they overlap, checked for every pair of spans in a window."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest

from salonbot.booking.time_locks import (
    INDEX_BITS,
    TOP_LEVEL,
    BlockLock,
    block_locks,
    minute_of,
    span_locks,
)


@dataclass(frozen=True)
class Held:
    keys: frozenset[int]
    exclusive: frozenset[int]

    @classmethod
    def of(cls, locks: list[BlockLock]) -> Held:
        return cls(
            frozenset(lock.key for lock in locks),
            frozenset(lock.key for lock in locks if lock.exclusive),
        )


def conflict(a: list[BlockLock] | Held, b: list[BlockLock] | Held) -> bool:
    """Whether two transactions holding these locks would wait on each other: they share
    a key that one of them holds exclusively."""
    a = a if isinstance(a, Held) else Held.of(a)
    b = b if isinstance(b, Held) else Held.of(b)
    return bool(a.exclusive & b.keys or b.exclusive & a.keys)


def overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_spans_conflict_exactly_when_they_overlap() -> None:
    # Given every span of 1..32 minutes starting in a 32-minute window, at an odd minute
    # of 2028 so that blocks of every size are cut
    base = 15_000_000 + 3
    spans = [(base + s, base + s + n) for s in range(32) for n in range(1, 33)]
    locks = {span: Held.of(block_locks(*span)) for span in spans}

    # Then each pair conflicts if and only if the spans overlap
    wrong = [
        (a, b)
        for a, b in itertools.combinations(spans, 2)
        if conflict(locks[a], locks[b]) != overlap(a, b)
    ]
    assert wrong == []


def test_long_spans_past_the_top_block_still_conflict_exactly() -> None:
    top = 1 << TOP_LEVEL
    base = 15_000_000 - 15_000_000 % top
    day = (base + 300, base + 300 + 3 * top)
    assert conflict(block_locks(*day), block_locks(base + 2 * top, base + 2 * top + 1))
    assert not conflict(block_locks(*day), block_locks(day[1], day[1] + 60))
    assert not conflict(block_locks(*day), block_locks(day[0] - 60, day[0]))


def test_a_booking_takes_few_keys_in_ascending_order_each_once() -> None:
    start = minute_of(dt.datetime(2030, 1, 7, 10, 5, tzinfo=dt.UTC))
    locks = block_locks(start, start + 70)

    assert len(locks) <= 3 * TOP_LEVEL
    assert [lock.key for lock in locks] == sorted({lock.key for lock in locks})
    assert all(0 < lock.key < 2**31 for lock in locks)


def test_seconds_widen_a_span_to_whole_minutes() -> None:
    at = dt.datetime(2030, 1, 7, 10, 0, 30, tzinfo=dt.UTC)
    minute = minute_of(at)

    assert span_locks(at, at + dt.timedelta(minutes=1)) == block_locks(minute, minute + 2)
    assert span_locks(at, at) == block_locks(minute, minute + 1)


@pytest.mark.parametrize(("start", "end"), [(5, 5), (7, 3), (-1, 4), (0, 1 << INDEX_BITS)], ids=str)
def test_what_is_not_a_span_is_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="not a span"):
        block_locks(start, end)


def test_times_before_the_epoch_are_refused() -> None:
    with pytest.raises(ValueError, match="before"):
        minute_of(dt.datetime(1999, 12, 31, tzinfo=dt.UTC))
