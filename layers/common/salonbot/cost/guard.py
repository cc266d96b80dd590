"""The DynamoDB cost guard: spend is reserved under the salon's and the global daily cap
before a model call, reconciled to the real cost after it, released if it failed.

Every write is one DynamoDB transaction whose conditions carry the caps, so concurrent
callers can never push a counter past its cap (docs/cost-guard.md has the argument).

Items (one table, string hash key `pk`, TTL attribute `expires_at`):
- `salon#<salon id>#<local date>`: `spent` of that salon on that day of its timezone;
  amounts are integers in units of 1e-8 USD (exact sums, no float rounding);
- `global#<UTC date>#<shard>`: one of `shards` slices of the global counter;
- `resv#<reservation id>`: the reservation's state (reserved, reconciled, released),
  amount and the counter items it touched, which makes reconcile and release idempotent.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import zlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, NoReturn
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

from salonbot.errors import BudgetExceeded
from salonbot.observability import MetricName, logger, metrics

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient

    from salonbot.config import Settings


CENT_FRACTION = Decimal("0.00000001")  # amounts are kept to 1e-8 USD, as ai_messages.cost
UNITS_PER_USD = 100_000_000
DAY_ITEM_TTL = dt.timedelta(days=8)  # counters outlive their day for alerts and audits
RESERVATION_TTL = dt.timedelta(days=2)
CONFLICT_RETRIES = 6
GLOBAL_SHARD_RETRIES = 3

RESERVED, RECONCILED, RELEASED = "reserved", "reconciled", "released"


@dataclass(frozen=True)
class Reservation:
    """A hold on budget. Pass it back to `reconcile` or `release`, once or many times."""

    reservation_id: str
    salon_id: str
    amount_usd: Decimal
    salon_day: str  # YYYY-MM-DD in the salon's timezone
    salon_key: str
    global_key: str | None  # None when there is no global cap


def salon_day(timezone: str, now: dt.datetime) -> dt.date:
    """The salon's calendar day at `now` (an aware datetime)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def salon_key(salon_id: str, day: dt.date) -> str:
    return f"salon#{salon_id}#{day.isoformat()}"


def global_key(day: dt.date, shard: int) -> str:
    return f"global#{day.isoformat()}#{shard}"


def shard_cap(global_cap: Decimal, shards: int) -> Decimal:
    """Per-shard cap, rounded down so that `shards * shard_cap <= global_cap`."""
    return (global_cap / shards).quantize(CENT_FRACTION, rounding=ROUND_DOWN)


def _usd(value: Decimal) -> Decimal:
    return value.quantize(CENT_FRACTION)


def to_units(usd: Decimal) -> int:
    return int(_usd(usd) * UNITS_PER_USD)


def from_units(units: int | str) -> Decimal:
    return _usd(Decimal(units) / UNITS_PER_USD)


def _n(value: Decimal | int) -> dict[str, str]:
    """A DynamoDB number; USD amounts are sent as integer units."""
    return {"N": str(to_units(value) if isinstance(value, Decimal) else value)}


def _expires(day: dt.date) -> int:
    end = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + DAY_ITEM_TTL
    return int(end.timestamp())


class DynamoCostGuard:
    """`reserve` / `reconcile` / `release` against one DynamoDB table."""

    def __init__(
        self,
        table_name: str,
        *,
        global_daily_budget_usd: Decimal | None,
        shards: int = 10,
        client: DynamoDBClient | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._client = client
        self._table = table_name
        self._global_cap = global_daily_budget_usd
        self._shards = shards
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # -- public ---------------------------------------------------------------------------

    def reserve(
        self,
        *,
        salon_id: str,
        timezone: str,
        daily_budget_usd: Decimal,
        amount_usd: Decimal,
        reservation_id: str,
    ) -> Reservation:
        """Hold `amount_usd` under both caps, or raise `BudgetExceeded` and hold nothing.

        Calling it again with the same `reservation_id` while the reservation is held
        returns it unchanged; a released reservation is held again."""
        amount = _usd(amount_usd)
        if amount < 0:
            raise ValueError("amount_usd must not be negative")
        now = self._clock()
        day = salon_day(timezone, now)
        utc_day = now.astimezone(dt.UTC).date()
        salon_cap = _usd(Decimal(daily_budget_usd))
        if amount > salon_cap:
            self._refused("salon", salon_id, amount)
        per_shard = None
        if self._global_cap is not None:
            per_shard = shard_cap(Decimal(self._global_cap), self._shards)
            if amount > per_shard:
                self._refused("global", salon_id, amount)
        shard = zlib.crc32(reservation_id.encode()) % self._shards
        for _ in range(GLOBAL_SHARD_RETRIES):
            reservation = Reservation(
                reservation_id=reservation_id,
                salon_id=salon_id,
                amount_usd=amount,
                salon_day=day.isoformat(),
                salon_key=salon_key(salon_id, day),
                global_key=global_key(utc_day, shard) if per_shard is not None else None,
            )
            reasons = self._try_reserve(reservation, salon_cap, per_shard, day, utc_day, now)
            if reasons is None:
                return reservation
            if reasons[0] == "ConditionalCheckFailed":
                return self._existing(reservation_id)
            if reasons[1] == "ConditionalCheckFailed":
                self._refused("salon", salon_id, amount)
            # Only the global shard refused: another shard may still have room.
            assert per_shard is not None
            roomiest = self._roomiest_shard(utc_day, per_shard)
            if roomiest is None or roomiest[1] < amount:
                break
            shard = roomiest[0]
        self._refused("global", salon_id, amount)

    def reconcile(self, reservation: Reservation, actual_usd: Decimal) -> None:
        """Replace the held amount with the real cost. Counts once however often called;
        a no-op on a released reservation. The real cost is recorded even above the cap:
        it was spent, and the next reservation sees it."""
        actual = _usd(actual_usd)
        delta = actual - reservation.amount_usd
        self._settle(reservation, RECONCILED, delta, {":actual": _n(actual)}, ", actual = :actual")

    def release(self, reservation: Reservation) -> None:
        """Give the held amount back (the call failed or never happened). Idempotent."""
        self._settle(reservation, RELEASED, -reservation.amount_usd, {}, "")

    def spent_today(self, salon_id: str, timezone: str) -> Decimal:
        """The salon's counter for its current day (reserved plus reconciled)."""
        key = salon_key(salon_id, salon_day(timezone, self._clock()))
        return self._read_spent([key]).get(key, Decimal(0))

    def global_spent_today(self) -> Decimal:
        day = self._clock().astimezone(dt.UTC).date()
        keys = [global_key(day, s) for s in range(self._shards)]
        return sum(self._read_spent(keys).values(), Decimal(0))

    # -- internals ------------------------------------------------------------------------

    def _counter_update(self, key: str, amount: Decimal, cap: Decimal | None, expires: int) -> Any:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "SET expires_at = if_not_exists(expires_at, :exp) ADD spent :amt",
            "ExpressionAttributeValues": {":amt": _n(amount), ":exp": _n(expires)},
        }
        if cap is not None:
            # `spent + amount <= cap`, written as DynamoDB can compare it.
            update["ConditionExpression"] = "attribute_not_exists(spent) OR spent <= :room"
            update["ExpressionAttributeValues"][":room"] = _n(cap - amount)
        return {"Update": update}

    def _try_reserve(
        self,
        r: Reservation,
        salon_cap: Decimal,
        per_shard: Decimal | None,
        day: dt.date,
        utc_day: dt.date,
        now: dt.datetime,
    ) -> list[str] | None:
        """None when held; else the cancellation reason code of each transaction item."""
        resv_values: dict[str, Any] = {
            ":reserved": {"S": RESERVED},
            ":released": {"S": RELEASED},
            ":salon": {"S": r.salon_id},
            ":amt": _n(r.amount_usd),
            ":skey": {"S": r.salon_key},
            ":day": {"S": r.salon_day},
            ":at": {"S": now.isoformat()},
            ":exp": _n(int((now + RESERVATION_TTL).timestamp())),
        }
        set_expr = (
            "SET #state = :reserved, salon_id = :salon, amount = :amt, salon_key = :skey, "
            "salon_day = :day, reserved_at = :at, expires_at = :exp"
        )
        if r.global_key is not None:
            resv_values[":gkey"] = {"S": r.global_key}
            set_expr += ", global_key = :gkey"
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": f"resv#{r.reservation_id}"}},
                    "UpdateExpression": set_expr,
                    "ConditionExpression": "attribute_not_exists(pk) OR #state = :released",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": resv_values,
                }
            },
            self._counter_update(r.salon_key, r.amount_usd, salon_cap, _expires(day)),
        ]
        if r.global_key is not None:
            items.append(
                self._counter_update(r.global_key, r.amount_usd, per_shard, _expires(utc_day))
            )
        return self._transact(items)

    def _settle(
        self,
        r: Reservation,
        state: str,
        delta: Decimal,
        values: dict[str, Any],
        extra_set: str,
    ) -> None:
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": f"resv#{r.reservation_id}"}},
                    "UpdateExpression": f"SET #state = :state{extra_set}",
                    "ConditionExpression": "#state = :reserved",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {
                        ":state": {"S": state},
                        ":reserved": {"S": RESERVED},
                        **values,
                    },
                }
            },
        ]
        day = dt.date.fromisoformat(r.salon_day)
        if delta != 0:
            items.append(self._counter_update(r.salon_key, delta, None, _expires(day)))
            if r.global_key is not None:
                items.append(self._counter_update(r.global_key, delta, None, _expires(day)))
        reasons = self._transact(items)
        if reasons is not None:
            # The reservation is no longer held: this call is a retry, or it was settled.
            logger.info(
                "cost reservation already settled",
                reservation_id=r.reservation_id,
                wanted=state,
            )

    def _transact(self, items: Sequence[Any]) -> list[str] | None:
        """Run a transaction, retrying conflicts with other transactions on the same
        items; None on success, else the per-item cancellation reason codes."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                self._client.transact_write_items(TransactItems=list(items))
                return None
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                raw = exc.response.get("CancellationReasons") or []
                reasons = [str(r.get("Code", "None")) for r in raw]
                if "ConditionalCheckFailed" in reasons or not reasons:
                    return reasons or ["ConditionalCheckFailed"] * len(items)
                # TransactionConflict / ThrottlingError: back off with jitter and retry.
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise RuntimeError("cost guard transaction kept conflicting")

    def _existing(self, reservation_id: str) -> Reservation:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"resv#{reservation_id}"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None or item["state"]["S"] != RESERVED:
            raise ValueError(f"reservation id {reservation_id!r} was already used and settled")
        return Reservation(
            reservation_id=reservation_id,
            salon_id=item["salon_id"]["S"],
            amount_usd=from_units(item["amount"]["N"]),
            salon_day=item["salon_day"]["S"],
            salon_key=item["salon_key"]["S"],
            global_key=item["global_key"]["S"] if "global_key" in item else None,
        )

    def _read_spent(self, keys: list[str]) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        request: Any = {
            self._table: {"Keys": [{"pk": {"S": k}} for k in keys], "ConsistentRead": True}
        }
        while request:
            response = self._client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                found[item["pk"]["S"]] = from_units(item.get("spent", {}).get("N", "0"))
            request = response.get("UnprocessedKeys") or None
        return found

    def _roomiest_shard(self, day: dt.date, per_shard: Decimal) -> tuple[int, Decimal] | None:
        keys = [global_key(day, s) for s in range(self._shards)]
        spent = self._read_spent(keys)
        rooms = [(s, per_shard - spent.get(k, Decimal(0))) for s, k in enumerate(keys)]
        return max(rooms, key=lambda room: room[1], default=None)

    def _refused(self, scope: str, salon_id: str, amount: Decimal) -> NoReturn:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics.add_metric(name=MetricName.BUDGET_REFUSALS, unit=MetricUnit.Count, value=1)
        logger.warning(
            "cost guard refused a model call",
            scope=scope,
            salon_id=salon_id,
            amount_usd=str(amount),
        )
        raise BudgetExceeded(f"{scope} daily budget reached")


def from_settings(
    settings: Settings, client: DynamoDBClient | None = None
) -> DynamoCostGuard | None:
    """The guard the processor uses, built once per container: DynamoDB when `COST_TABLE`
    is set (caps: each salon's budget and `GLOBAL_DAILY_BUDGET_USD` over
    `COST_GUARD_SHARDS` shards); None when there is no table (unlimited spend)."""
    if not settings.cost_table:
        return None
    return DynamoCostGuard(
        settings.cost_table,
        global_daily_budget_usd=Decimal(str(settings.global_daily_budget_usd)),
        shards=settings.cost_guard_shards,
        client=client,
    )
