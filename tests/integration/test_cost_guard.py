"""The DynamoDB cost guard against moto: caps under concurrency, idempotent settlement,
days in the salon's timezone, per-customer caps, shard counts that change."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend

from salonbot.cost.guard import (
    DynamoCostGuard,
    customer_day_key,
    customer_key,
    customer_key_prefix,
    from_units,
    global_key,
    salon_key,
    shard_cap,
)
from salonbot.errors import BudgetExceeded
from salonbot.observability import MetricName, metrics
from tests.integration.moto_dynamodb import COST_TABLE, create_cost_table, serialized_dynamodb

pytestmark = pytest.mark.integration

SALON = "3f0c1a52-0000-4000-8000-000000000001"
OTHER_SALON = "3f0c1a52-0000-4000-8000-000000000002"
ANNA = "+79001234567"
BORIS = "+79007654321"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_cost_table(client)
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC))


def guard(
    client: Any, clock: Clock, *, global_cap: str | None = "1000", shards: int = 10
) -> DynamoCostGuard:
    return DynamoCostGuard(
        COST_TABLE,
        global_daily_budget_usd=Decimal(global_cap) if global_cap is not None else None,
        shards=shards,
        client=client,
        clock=clock,
    )


def reserve(g: DynamoCostGuard, rid: str, amount: str, budget: str = "1.00", **kw: Any) -> Any:
    customer: dict[str, Any] = {}
    if "phone" in kw:
        customer["customer_phone"] = kw["phone"]
        cap = kw.get("customer_budget")
        customer["customer_daily_budget_usd"] = Decimal(cap) if cap is not None else None
    return g.reserve(
        salon_id=kw.get("salon_id", SALON),
        timezone=kw.get("timezone", "Europe/Moscow"),
        daily_budget_usd=Decimal(budget),
        amount_usd=Decimal(amount),
        reservation_id=rid,
        **customer,
    )


def counter(client: Any, key: str) -> Decimal:
    item = client.get_item(TableName=COST_TABLE, Key={"pk": {"S": key}}).get("Item")
    return from_units(item["spent"]["N"]) if item else Decimal(0)


def global_total(client: Any, day: str, shards: int) -> Decimal:
    return sum((counter(client, f"global#{day}#{s}") for s in range(shards)), Decimal(0))


def all_global_spend(client: Any, day: str) -> Decimal:
    """Every global counter item of the day, whatever shard count wrote it."""
    items = client.scan(TableName=COST_TABLE)["Items"]
    return sum(
        (
            from_units(i["spent"]["N"])
            for i in items
            if i["pk"]["S"].startswith(f"global#{day}#") and "spent" in i
        ),
        Decimal(0),
    )


def run_concurrently(n: int, fn: Any) -> list[Any]:
    barrier = threading.Barrier(n)

    def call(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except BudgetExceeded as exc:
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(call, range(n)))


def test_fifty_concurrent_reservations_never_exceed_the_salon_cap(
    dynamodb: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a salon with a $1.00 budget and 50 callers wanting $0.03 each ($1.50 in all)
    g = guard(dynamodb, clock)
    with serialized_dynamodb(monkeypatch):
        # When they all reserve at once
        results = run_concurrently(50, lambda i: reserve(g, f"r{i}", "0.03"))
    # Then exactly as many as fit are held, the rest refused, and the counter is the sum
    held = [r for r in results if not isinstance(r, BudgetExceeded)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(held) == 33
    assert len(refused) == 17
    assert counter(dynamodb, salon_key(SALON, dt.date(2026, 3, 10))) == Decimal("0.99")
    assert global_total(dynamodb, "2026-03-10", 10) == Decimal("0.99")


def test_fifty_concurrent_reservations_never_exceed_the_sharded_global_cap(
    dynamodb: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a $1.00 global cap over 4 shards and salons with plenty of budget
    g = guard(dynamodb, clock, global_cap="1.00", shards=4)
    with serialized_dynamodb(monkeypatch):
        # When 50 callers of two salons reserve $0.03 each at once
        results = run_concurrently(
            50,
            lambda i: reserve(
                g, f"g{i}", "0.03", budget="100", salon_id=SALON if i % 2 else OTHER_SALON
            ),
        )
    held = [r for r in results if not isinstance(r, BudgetExceeded)]
    # Then the global total is what was held and never above the cap
    total = global_total(dynamodb, "2026-03-10", 4)
    assert total == Decimal("0.03") * len(held)
    assert total <= Decimal("1.00")
    assert len(held) >= 1
    for shard in range(4):
        assert counter(dynamodb, f"global#2026-03-10#{shard}") <= shard_cap(Decimal("1.00"), 4)


def test_sequential_reservations_fill_the_global_cap_up_to_one_amount_per_shard(
    dynamodb: Any, clock: Clock
) -> None:
    # Given a $1.00 global cap over 4 shards
    g = guard(dynamodb, clock, global_cap="1.00", shards=4)
    held = 0
    # When callers reserve $0.03 until refused 5 times in a row
    refusals = 0
    for i in range(100):  # 34 calls would pass an unguarded $1.00
        try:
            reserve(g, f"s{i}", "0.03", budget="100")
            held += 1
            refusals = 0
        except BudgetExceeded:
            refusals += 1
            if refusals == 5:
                break
    # Then the spend reached at least cap - shards * amount (docs/cost-guard.md)
    total = global_total(dynamodb, "2026-03-10", 4)
    assert Decimal("1.00") - 4 * Decimal("0.03") <= total <= Decimal("1.00")
    assert total == Decimal("0.03") * held


def test_refusal_holds_nothing_and_emits_a_metric(dynamodb: Any, clock: Clock) -> None:
    # Given a salon that has spent 0.90 of its 1.00
    g = guard(dynamodb, clock)
    reserve(g, "first", "0.90")
    metrics.clear_metrics()
    # When a call wanting 0.20 reserves
    with pytest.raises(BudgetExceeded):
        reserve(g, "second", "0.20")
    # Then nothing was held anywhere and a refusal metric is pending
    assert counter(dynamodb, salon_key(SALON, dt.date(2026, 3, 10))) == Decimal("0.90")
    assert global_total(dynamodb, "2026-03-10", 10) == Decimal("0.90")
    assert MetricName.BUDGET_REFUSALS in metrics.metric_set
    assert "resv#second" not in {i["pk"]["S"] for i in dynamodb.scan(TableName=COST_TABLE)["Items"]}
    metrics.clear_metrics()


def test_an_amount_above_the_whole_budget_is_refused_without_writing(
    dynamodb: Any, clock: Clock
) -> None:
    g = guard(dynamodb, clock)
    with pytest.raises(BudgetExceeded):
        reserve(g, "big", "1.01")
    assert dynamodb.scan(TableName=COST_TABLE)["Items"] == []
    metrics.clear_metrics()


def test_reconcile_retried_three_times_counts_once(dynamodb: Any, clock: Clock) -> None:
    # Given a reservation of 0.05
    g = guard(dynamodb, clock)
    r = reserve(g, "call-1", "0.05")
    # When the real cost of 0.02 is reconciled three times (a retried handler)
    for _ in range(3):
        g.reconcile(r, Decimal("0.02"))
    # Then the salon and global counters hold 0.02 once, and a late release changes nothing
    g.release(r)
    assert counter(dynamodb, r.salon_key) == Decimal("0.02")
    assert global_total(dynamodb, "2026-03-10", 10) == Decimal("0.02")
    assert g.spent_today(SALON, "Europe/Moscow") == Decimal("0.02")


def test_concurrent_reconcile_retries_count_once(
    dynamodb: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    g = guard(dynamodb, clock)
    r = reserve(g, "call-2", "0.05")
    with serialized_dynamodb(monkeypatch):
        run_concurrently(3, lambda _: g.reconcile(r, Decimal("0.04")))
    assert counter(dynamodb, r.salon_key) == Decimal("0.04")


def test_release_gives_the_amount_back_once(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock)
    r1 = reserve(g, "a", "0.60")
    # The call failed: release, twice (retry)
    g.release(r1)
    g.release(r1)
    # Then the budget is whole again: 0.90 fits, and a reconcile after release is ignored
    g.reconcile(r1, Decimal("0.60"))
    reserve(g, "b", "0.90")
    assert counter(dynamodb, r1.salon_key) == Decimal("0.90")


def test_reserve_retried_with_the_same_id_holds_once(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock)
    first = reserve(g, "same", "0.30")
    again = reserve(g, "same", "0.30")
    assert again == first
    assert counter(dynamodb, first.salon_key) == Decimal("0.30")


def test_reconcile_above_the_estimate_records_the_real_cost(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock)
    r = reserve(g, "under", "0.10")
    g.reconcile(r, Decimal("0.15"))
    assert counter(dynamodb, r.salon_key) == Decimal("0.15")


def test_days_follow_the_salon_timezone(dynamodb: Any, clock: Clock) -> None:
    # Given a Moscow salon (UTC+3) that spent its whole budget at 23:30 local time
    g = guard(dynamodb, clock)
    clock.now = dt.datetime(2026, 3, 10, 20, 30, tzinfo=dt.UTC)
    reserve(g, "late", "1.00")
    with pytest.raises(BudgetExceeded):
        reserve(g, "still-today", "0.01")
    # And a Los Angeles salon, for which it is still the morning of the same day
    la = reserve(g, "la", "0.50", salon_id=OTHER_SALON, timezone="America/Los_Angeles")
    assert la.salon_day == "2026-03-10"
    # When Moscow passes midnight (21:00 UTC), the budget is fresh
    clock.now = dt.datetime(2026, 3, 10, 21, 0, tzinfo=dt.UTC)
    fresh = reserve(g, "after-midnight", "0.40")
    assert fresh.salon_day == "2026-03-11"
    assert counter(dynamodb, salon_key(SALON, dt.date(2026, 3, 10))) == Decimal("1.00")
    assert counter(dynamodb, salon_key(SALON, dt.date(2026, 3, 11))) == Decimal("0.40")
    metrics.clear_metrics()


def test_a_call_across_midnight_settles_on_the_day_it_reserved(dynamodb: Any, clock: Clock) -> None:
    # Given a reservation at 23:59:50 in Moscow
    g = guard(dynamodb, clock)
    clock.now = dt.datetime(2026, 3, 10, 20, 59, 50, tzinfo=dt.UTC)
    r = reserve(g, "midnight", "0.50")
    # When it is reconciled after local midnight
    clock.now = dt.datetime(2026, 3, 10, 21, 0, 5, tzinfo=dt.UTC)
    g.reconcile(r, Decimal("0.20"))
    # Then the old day holds the real cost and the new day is untouched
    assert counter(dynamodb, salon_key(SALON, dt.date(2026, 3, 10))) == Decimal("0.20")
    assert counter(dynamodb, salon_key(SALON, dt.date(2026, 3, 11))) == Decimal(0)


def test_daylight_saving_day_boundary(dynamodb: Any, clock: Clock) -> None:
    # Berlin moves to UTC+2 on 2026-03-29: local midnight of the 30th is 22:00 UTC
    g = guard(dynamodb, clock)
    clock.now = dt.datetime(2026, 3, 29, 21, 59, tzinfo=dt.UTC)
    assert reserve(g, "before", "0.1", timezone="Europe/Berlin").salon_day == "2026-03-29"
    clock.now = dt.datetime(2026, 3, 29, 22, 0, tzinfo=dt.UTC)
    assert reserve(g, "after", "0.1", timezone="Europe/Berlin").salon_day == "2026-03-30"


def test_day_counters_carry_a_ttl(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock)
    r = reserve(g, "ttl", "0.10")
    item = dynamodb.get_item(TableName=COST_TABLE, Key={"pk": {"S": r.salon_key}})["Item"]
    expires = dt.datetime.fromtimestamp(int(item["expires_at"]["N"]), dt.UTC)
    assert dt.datetime(2026, 3, 11, tzinfo=dt.UTC) < expires
    assert expires < dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    resv = dynamodb.get_item(TableName=COST_TABLE, Key={"pk": {"S": "resv#ttl"}})["Item"]
    assert int(resv["expires_at"]["N"]) > int(clock.now.timestamp())


def test_transaction_conflicts_are_retried(
    dynamodb: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB cancels the first transaction for a conflict with another one
    original = DynamoDBBackend.transact_write_items
    calls = {"n": 0}

    def conflicting_once(self: Any, transact_items: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransactionCanceledException(
                [("TransactionConflict", "conflict", None)] + [(None, None, None)] * 2
            )
        return original(self, transact_items)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", conflicting_once)
    # When a reservation is made, then it is held after the retry
    r = reserve(guard(dynamodb, clock), "conflict", "0.25")
    assert calls["n"] == 2
    assert counter(dynamodb, r.salon_key) == Decimal("0.25")


def test_without_a_global_cap_only_the_salon_counts(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock, global_cap=None)
    r = reserve(g, "solo", "0.25")
    assert r.global_key is None
    assert global_total(dynamodb, "2026-03-10", 10) == Decimal(0)
    g.reconcile(r, Decimal("0.05"))
    assert counter(dynamodb, r.salon_key) == Decimal("0.05")


def test_from_settings_builds_the_guard_only_with_a_table(dynamodb: Any) -> None:
    from salonbot.config import Settings
    from salonbot.cost.guard import from_settings

    assert from_settings(Settings()) is None
    g = from_settings(
        Settings(cost_table=COST_TABLE, global_daily_budget_usd=0.5, cost_guard_shards=2),
        client=dynamodb,
    )
    assert isinstance(g, DynamoCostGuard)
    # 0.5 over 2 shards: 0.25 a shard, so 0.30 cannot be held whatever the salon budget
    with pytest.raises(BudgetExceeded):
        reserve(g, "too-big", "0.30", budget="10")
    metrics.clear_metrics()


# -- per customer -------------------------------------------------------------------------


def test_a_customer_at_their_cap_leaves_the_salons_budget_to_the_others(
    dynamodb: Any, clock: Clock
) -> None:
    # Given a salon with $1.00 a day and $0.10 a day per customer
    g = guard(dynamodb, clock)
    held = 0
    # When Anna's calls reserve $0.03 each until one is refused
    with pytest.raises(BudgetExceeded, match="customer"):
        for i in range(10):
            reserve(g, f"anna-{i}", "0.03", phone=ANNA, customer_budget="0.10")
            held += 1
    # Then she got three calls, the salon holds only her $0.09 ...
    assert held == 3
    assert g.customer_spent_today(SALON, "Europe/Moscow", ANNA) == Decimal("0.09")
    assert g.spent_today(SALON, "Europe/Moscow") == Decimal("0.09")
    # ... and Boris, at the same salon, still gets his model calls
    for i in range(3):
        reserve(g, f"boris-{i}", "0.03", phone=BORIS, customer_budget="0.10")
    assert g.customer_spent_today(SALON, "Europe/Moscow", BORIS) == Decimal("0.09")
    assert g.spent_today(SALON, "Europe/Moscow") == Decimal("0.18")
    metrics.clear_metrics()


def test_concurrent_calls_of_one_customer_never_exceed_their_cap(
    dynamodb: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a $0.10 customer cap and 20 of the customer's calls wanting $0.03 at once
    g = guard(dynamodb, clock)
    with serialized_dynamodb(monkeypatch):
        results = run_concurrently(
            20, lambda i: reserve(g, f"c{i}", "0.03", phone=ANNA, customer_budget="0.10")
        )
    # Then exactly three are held, and the customer, salon and global counters agree
    held = [r for r in results if not isinstance(r, BudgetExceeded)]
    assert len(held) == 3
    assert g.customer_spent_today(SALON, "Europe/Moscow", ANNA) == Decimal("0.09")
    assert g.spent_today(SALON, "Europe/Moscow") == Decimal("0.09")
    assert global_total(dynamodb, "2026-03-10", 10) == Decimal("0.09")
    metrics.clear_metrics()


def test_a_customer_refusal_holds_nothing_anywhere(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock)
    reserve(g, "first", "0.08", phone=ANNA, customer_budget="0.10")
    with pytest.raises(BudgetExceeded, match="customer"):
        reserve(g, "second", "0.05", phone=ANNA, customer_budget="0.10")
    assert g.spent_today(SALON, "Europe/Moscow") == Decimal("0.08")
    assert global_total(dynamodb, "2026-03-10", 10) == Decimal("0.08")
    assert "resv#second" not in {i["pk"]["S"] for i in dynamodb.scan(TableName=COST_TABLE)["Items"]}
    metrics.clear_metrics()


def test_the_default_customer_cap_is_a_tenth_of_the_salons(dynamodb: Any, clock: Clock) -> None:
    # Given a salon with $1.00 a day whose file names no customer cap
    g = guard(dynamodb, clock)
    reserve(g, "a1", "0.06", phone=ANNA)
    reserve(g, "a2", "0.04", phone=ANNA)
    # Then the customer's $0.10 is spent
    with pytest.raises(BudgetExceeded, match="customer"):
        reserve(g, "a3", "0.00000001", phone=ANNA)
    metrics.clear_metrics()


def test_a_customer_cap_above_the_salons_is_the_salons(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock)
    reserve(g, "a1", "0.90", phone=ANNA, customer_budget="5.00")
    with pytest.raises(BudgetExceeded):
        reserve(g, "a2", "0.20", phone=ANNA, customer_budget="5.00")
    metrics.clear_metrics()


def test_reconcile_and_release_settle_the_customer_counter_too(dynamodb: Any, clock: Clock) -> None:
    g = guard(dynamodb, clock)
    kept = reserve(g, "kept", "0.05", phone=ANNA, customer_budget="0.10")
    failed = reserve(g, "failed", "0.04", phone=ANNA, customer_budget="0.10")
    g.reconcile(kept, Decimal("0.01"))
    g.reconcile(kept, Decimal("0.01"))
    g.release(failed)
    assert g.customer_spent_today(SALON, "Europe/Moscow", ANNA) == Decimal("0.01")
    assert g.spent_today(SALON, "Europe/Moscow") == Decimal("0.01")
    # And a retried reserve returns the reservation with its customer counter
    again = reserve(g, "again", "0.02", phone=ANNA, customer_budget="0.10")
    assert reserve(g, "again", "0.02", phone=ANNA, customer_budget="0.10") == again
    assert g.customer_spent_today(SALON, "Europe/Moscow", ANNA) == Decimal("0.03")


def test_customer_days_follow_the_salon_timezone(dynamodb: Any, clock: Clock) -> None:
    # Given a Moscow customer who spent their cap at 23:30 local time
    g = guard(dynamodb, clock)
    clock.now = dt.datetime(2026, 3, 10, 20, 30, tzinfo=dt.UTC)
    reserve(g, "late", "0.10", phone=ANNA)
    with pytest.raises(BudgetExceeded):
        reserve(g, "still-today", "0.01", phone=ANNA)
    # When Moscow passes midnight, the customer's day is fresh
    clock.now = dt.datetime(2026, 3, 10, 21, 0, tzinfo=dt.UTC)
    reserve(g, "after-midnight", "0.10", phone=ANNA)
    metrics.clear_metrics()


def test_customer_items_are_keyed_by_a_salted_hash_not_the_phone(
    dynamodb: Any, clock: Clock
) -> None:
    # Given a customer's reservation
    g = guard(dynamodb, clock)
    r = reserve(g, "private", "0.05", phone=ANNA)
    g.reconcile(r, Decimal("0.02"))
    # Then no key or attribute of the table holds the phone or its digits
    dump = str(dynamodb.scan(TableName=COST_TABLE)["Items"])
    assert ANNA.lstrip("+") not in dump
    # The key is derivable from (salon, phone), the same for any spelling of the number,
    # different at another salon
    day = dt.date(2026, 3, 10)
    assert r.customer_key == customer_day_key(SALON, "+7 900 123-45-67", day)
    assert customer_key(SALON, ANNA) == customer_key(SALON, "79001234567")
    assert customer_key(SALON, ANNA) != customer_key(OTHER_SALON, ANNA)
    assert customer_key(SALON, ANNA) != customer_key(SALON, BORIS)
    # And the prefix erasure deletes under covers every day's counter, and no one else's
    prefix = customer_key_prefix(SALON, ANNA)
    assert r.customer_key.startswith(prefix)
    assert customer_day_key(SALON, ANNA, dt.date(2026, 3, 18)).startswith(prefix)
    assert not customer_day_key(SALON, BORIS, day).startswith(prefix)


# -- the salon under the global cap -------------------------------------------------------


def test_a_salon_budget_above_the_global_cap_is_the_global_cap(dynamodb: Any, clock: Clock) -> None:
    # Given a salon file saying $100 a day while the whole service may spend $1.00
    g = guard(dynamodb, clock, global_cap="1.00", shards=1)
    # Then the salon's cap is $1.00: more is refused as over the salon's budget
    with pytest.raises(BudgetExceeded, match="salon"):
        reserve(g, "huge", "1.50", budget="100")
    # And its customers' default cap is a tenth of $1.00, not of $100
    reserve(g, "a1", "0.10", budget="100", phone=ANNA)
    with pytest.raises(BudgetExceeded, match="customer"):
        reserve(g, "a2", "0.01", budget="100", phone=ANNA)
    metrics.clear_metrics()


# -- a change of COST_GUARD_SHARDS ----------------------------------------------------------


def _fill(g: DynamoCostGuard, prefix: str, amount: str = "0.03", tries: int = 60) -> int:
    held = 0
    for i in range(tries):
        try:
            reserve(g, f"{prefix}-{i}", amount, budget="100")
            held += 1
        except BudgetExceeded:
            pass
    return held


@pytest.mark.parametrize(("before", "after"), [(10, 5), (4, 20), (7, 3)])
def test_a_change_of_the_shard_count_never_lets_the_day_exceed_the_global_cap(
    dynamodb: Any, clock: Clock, before: int, after: int
) -> None:
    # Given a $1.00 global cap spent under `before` shards
    _fill(guard(dynamodb, clock, global_cap="1.00", shards=before), "old")
    spent = all_global_spend(dynamodb, "2026-03-10")
    assert spent >= Decimal("1.00") - before * Decimal("0.03")
    # When containers with `after` shards reserve on the same day
    newer = guard(dynamodb, clock, global_cap="1.00", shards=after)
    _fill(newer, "new")
    # Then the day's spend, over every global item, is still within the cap
    assert all_global_spend(dynamodb, "2026-03-10") <= Decimal("1.00")
    assert newer.global_spent_today() == all_global_spend(dynamodb, "2026-03-10")
    # And the next UTC day starts with the new count
    clock.now = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.UTC)
    _fill(newer, "next-day")
    assert newer.day_shards(dt.date(2026, 3, 11)) == after
    assert all_global_spend(dynamodb, "2026-03-11") <= Decimal("1.00")
    used = {
        i["pk"]["S"]
        for i in dynamodb.scan(TableName=COST_TABLE)["Items"]
        if i["pk"]["S"].startswith("global#2026-03-11#") and "spent" in i
    }
    assert used <= {global_key(dt.date(2026, 3, 11), s) for s in range(after)}
    metrics.clear_metrics()


def test_guards_with_different_shard_counts_at_once_stay_within_the_cap(
    dynamodb: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deploy: old containers with 10 shards, new ones with 3, starting the day together
    guards = [
        guard(dynamodb, clock, global_cap="1.00", shards=10),
        guard(dynamodb, clock, global_cap="1.00", shards=3),
    ]
    with serialized_dynamodb(monkeypatch):
        # When 60 callers reserve $0.03 each through either
        results = run_concurrently(
            60, lambda i: reserve(guards[i % 2], f"d{i}", "0.03", budget="100")
        )
    held = [r for r in results if not isinstance(r, BudgetExceeded)]
    # Then both used the day's one shard count and the total is within the cap
    assert guards[0].day_shards(dt.date(2026, 3, 10)) == guards[1].day_shards(dt.date(2026, 3, 10))
    total = all_global_spend(dynamodb, "2026-03-10")
    assert total == Decimal("0.03") * len(held)
    assert total <= Decimal("1.00")
    metrics.clear_metrics()


def test_a_customer_counter_erased_mid_call_comes_back_with_its_ttl(
    dynamodb: Any, clock: Clock
) -> None:
    # Given a held reservation whose customer counter is deleted (the customer's erasure)
    g = guard(dynamodb, clock)
    r = reserve(g, "erased", "0.05", phone=ANNA)
    dynamodb.delete_item(TableName=COST_TABLE, Key={"pk": {"S": r.customer_key}})
    # When the call is reconciled
    g.reconcile(r, Decimal("0.02"))
    # Then the recreated counter expires like any other, so it cannot linger
    item = dynamodb.get_item(TableName=COST_TABLE, Key={"pk": {"S": r.customer_key}})["Item"]
    assert int(item["expires_at"]["N"]) > int(clock.now.timestamp())
