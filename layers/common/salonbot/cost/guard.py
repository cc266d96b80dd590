"""The DynamoDB cost guard: spend is reserved under the customer's, the salon's and the
global daily cap before a model call, reconciled to the real cost after it, released if
it failed.

Every write is one DynamoDB transaction whose conditions carry the caps, so concurrent
callers can never push a counter past its cap (docs/cost-guard.md has the argument).

Items (one table, string hash key `pk`, TTL attribute `expires_at`):
- `salon#<salon id>#<local date>`: `spent` of that salon on that day of its timezone;
  amounts are integers in units of 1e-8 USD (exact sums, no float rounding);
- `cust#<salon id>#<customer key>#<local date>`: one customer's `spent` at that salon on
  the salon's day; the customer key is `customer_key(salon_id, phone)`, a salted hash, so
  no phone is stored in the table;
- `global#<UTC date>#<shard>`: one of the day's shards of the global counter;
- `global#<UTC date>#shards`: how many shards that day has, fixed by the day's first
  reservation (see `DynamoCostGuard.day_shards`);
- `resv#<reservation id>`: the reservation's state (reserved, reconciled, released),
  amount and the salon and global counters it touched (the customer's follows from the
  salon's day and the phone), which makes reconcile and release idempotent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
# A customer's cap when the salon names none: this share of the salon's (effective) cap.
DEFAULT_CUSTOMER_SHARE = Decimal("0.1")
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
    customer_key: str | None = None  # the customer's counter item; None: no customer cap


def salon_day(timezone: str, now: dt.datetime) -> dt.date:
    """The salon's calendar day at `now` (an aware datetime)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def salon_key(salon_id: str, day: dt.date) -> str:
    return f"salon#{salon_id}#{day.isoformat()}"


def customer_key(salon_id: object, phone: str) -> str:
    """The customer's id in cost-table keys: SHA-256 of the phone's digits salted with
    the salon id (`+7 900 123-45-67` and `79001234567` are the same customer), 128 bits
    in hex. It keeps phones out of the table and out of logs, and the same phone at two
    salons has unrelated keys. Anyone holding a salon id can still test a guessed phone
    against it, so it hides phones from readers of the table, not from a determined
    search of the phone space."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    salt = str(salon_id).lower()
    return hashlib.sha256(f"salonbot-cost\0{salt}\0{digits}".encode()).hexdigest()[:32]


def customer_key_prefix(salon_id: object, phone: str) -> str:
    """What the keys of every day counter of this customer at this salon start with:
    erasure deletes the items under it (salonbot.privacy.customer_items)."""
    return f"cust#{str(salon_id).lower()}#{customer_key(salon_id, phone)}#"


def customer_day_key(salon_id: object, phone: str, day: dt.date) -> str:
    """The item counting one customer's spend at one salon on the salon's `day`."""
    return customer_key_prefix(salon_id, phone) + day.isoformat()


def global_key(day: dt.date, shard: int) -> str:
    return f"global#{day.isoformat()}#{shard}"


def layout_key(day: dt.date) -> str:
    """The item recording how many global shards the UTC `day` uses."""
    return f"global#{day.isoformat()}#shards"


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
    """`reserve` / `reconcile` / `release` against one DynamoDB table.

    Caps of one reservation: the customer's (`customer_daily_budget_usd`, when a customer
    is named), the salon's (`daily_budget_usd`) and the global one over the day's shards.
    A salon's cap is never above the global cap, nor a customer's above the salon's."""

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
        self._global_cap = (
            _usd(Decimal(global_daily_budget_usd)) if global_daily_budget_usd is not None else None
        )
        self._shards = shards
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._day_shards: dict[str, int] = {}  # UTC day -> its pinned shard count

    # -- public ---------------------------------------------------------------------------

    def reserve(
        self,
        *,
        salon_id: str,
        timezone: str,
        daily_budget_usd: Decimal,
        amount_usd: Decimal,
        reservation_id: str,
        customer_phone: str | None = None,
        customer_daily_budget_usd: Decimal | None = None,
    ) -> Reservation:
        """Hold `amount_usd` under every cap, or raise `BudgetExceeded` and hold nothing.

        The salon's cap is `daily_budget_usd`, at most the global cap. With
        `customer_phone`, the customer's day counter at this salon is capped in the same
        transaction at `customer_daily_budget_usd` (at most the salon's cap; None: 10% of
        the salon's cap). Calling it again with the
        same `reservation_id` while the reservation is held returns it unchanged; a
        released reservation is held again."""
        amount = _usd(amount_usd)
        if amount < 0:
            raise ValueError("amount_usd must not be negative")
        now = self._clock()
        day = salon_day(timezone, now)
        utc_day = now.astimezone(dt.UTC).date()
        salon_cap = _usd(Decimal(daily_budget_usd))
        if self._global_cap is not None:
            salon_cap = min(salon_cap, self._global_cap)
        if amount > salon_cap:
            self._refused("salon", salon_id, amount)
        customer_cap = None
        customer_item = None
        if customer_phone is not None:
            if customer_daily_budget_usd is None:
                customer_cap = _usd(salon_cap * DEFAULT_CUSTOMER_SHARE)
            else:
                customer_cap = min(_usd(Decimal(customer_daily_budget_usd)), salon_cap)
            customer_item = customer_day_key(salon_id, customer_phone, day)
            if amount > customer_cap:
                self._refused("customer", salon_id, amount, customer_item)
        per_shard = None
        shards = 0
        if self._global_cap is not None:
            shards = self.day_shards(utc_day)
            per_shard = shard_cap(self._global_cap, shards)
            if amount > per_shard:
                self._refused("global", salon_id, amount)
        shard = zlib.crc32(reservation_id.encode()) % shards if shards else 0
        for _ in range(GLOBAL_SHARD_RETRIES):
            reservation = Reservation(
                reservation_id=reservation_id,
                salon_id=salon_id,
                amount_usd=amount,
                salon_day=day.isoformat(),
                salon_key=salon_key(salon_id, day),
                global_key=global_key(utc_day, shard) if per_shard is not None else None,
                customer_key=customer_item,
            )
            reasons = self._try_reserve(
                reservation, salon_cap, customer_cap, per_shard, day, utc_day, now
            )
            if reasons is None:
                return reservation
            if reasons[0] == "ConditionalCheckFailed":
                return self._existing(reservation_id, customer_phone)
            if reasons[1] == "ConditionalCheckFailed":
                self._refused("salon", salon_id, amount)
            if customer_item is not None and reasons[2] == "ConditionalCheckFailed":
                self._refused("customer", salon_id, amount, customer_item)
            # Only the global shard refused: another shard may still have room.
            assert per_shard is not None
            roomiest = self._roomiest_shard(utc_day, per_shard, shards)
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

    def customer_spent_today(self, salon_id: str, timezone: str, phone: str) -> Decimal:
        """One customer's counter at the salon for the salon's current day."""
        key = customer_day_key(salon_id, phone, salon_day(timezone, self._clock()))
        return self._read_spent([key]).get(key, Decimal(0))

    def global_spent_today(self) -> Decimal:
        day = self._clock().astimezone(dt.UTC).date()
        keys = [global_key(day, s) for s in range(self._recorded_shards(day))]
        return sum(self._read_spent(keys).values(), Decimal(0))

    def day_shards(self, day: dt.date) -> int:
        """The number of global shards of the UTC `day`: the `shards` of the first guard
        that reserved on that day, whatever `COST_GUARD_SHARDS` says now.

        Why: a shard's cap is `floor(K / N)` and the shard is chosen among N, so the day's
        total is at most `N * floor(K / N) <= K` only if every reservation of the day
        used the same N. Were each guard to use its own N, shards keyed by index would
        mix caps: 10 shards filled to K/10 each, then a guard with 5 shards lets shards
        0-4 reach K/5 (K in all) while shards 5-9 still hold K/2, 1.5 K for the day; and
        putting N in the keys would start a fresh partition, 2 K. So the first
        reservation of a day records N in `global#<day>#shards` with `if_not_exists` (one
        atomic write, which every later writer reads back instead of overwriting), and
        every guard uses the recorded N for that day: a changed count takes effect at the
        next UTC midnight, and whatever the history of counts, the spend recorded for a
        day stays within `N_day * floor(K / N_day) <= K`. One write per container per
        day, cached."""
        iso = day.isoformat()
        known = self._day_shards.get(iso)
        if known is not None:
            return known
        response = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": layout_key(day)}},
            UpdateExpression=(
                "SET shards = if_not_exists(shards, :n), "
                "expires_at = if_not_exists(expires_at, :exp)"
            ),
            ExpressionAttributeValues={":n": _n(self._shards), ":exp": _n(_expires(day))},
            ReturnValues="ALL_NEW",
        )
        pinned = int(response["Attributes"]["shards"]["N"])
        if pinned != self._shards:
            logger.info(
                "global cost counter keeps the day's shard count",
                day=iso,
                shards=pinned,
                configured=self._shards,
            )
        if len(self._day_shards) >= 4:  # days past are never reserved on again
            self._day_shards.clear()
        self._day_shards[iso] = pinned
        return pinned

    # -- internals ------------------------------------------------------------------------

    def _recorded_shards(self, day: dt.date) -> int:
        """The day's shard count without recording one (reads never pin a layout)."""
        known = self._day_shards.get(day.isoformat())
        if known is not None:
            return known
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": layout_key(day)}}, ConsistentRead=True
        ).get("Item")
        return int(item["shards"]["N"]) if item else self._shards

    def _counter_update(
        self, key: str, amount: Decimal, cap: Decimal | None, expires: int | None
    ) -> Any:
        """`ADD spent amount` (under `cap`), setting the item's TTL when `expires` is given:
        always where the item may not exist yet."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "ADD spent :amt",
            "ExpressionAttributeValues": {":amt": _n(amount)},
        }
        if expires is not None:
            update["UpdateExpression"] = (
                "SET expires_at = if_not_exists(expires_at, :exp) ADD spent :amt"
            )
            update["ExpressionAttributeValues"][":exp"] = _n(expires)
        if cap is not None:
            # `spent + amount <= cap`, written as DynamoDB can compare it.
            update["ConditionExpression"] = "attribute_not_exists(spent) OR spent <= :room"
            update["ExpressionAttributeValues"][":room"] = _n(cap - amount)
        return {"Update": update}

    def _try_reserve(
        self,
        r: Reservation,
        salon_cap: Decimal,
        customer_cap: Decimal | None,
        per_shard: Decimal | None,
        day: dt.date,
        utc_day: dt.date,
        now: dt.datetime,
    ) -> list[str] | None:
        """None when held; else the cancellation reason code of each transaction item:
        the reservation, the salon, the customer (when capped), the global shard."""
        # The salon and its day are in `salon_key`, the customer's counter follows from them
        # and the phone (so nothing about the customer is kept here); attributes stay few,
        # as each one is validated, serialized and parsed on every model call.
        resv_values: dict[str, Any] = {
            ":reserved": {"S": RESERVED},
            ":released": {"S": RELEASED},
            ":amt": _n(r.amount_usd),
            ":skey": {"S": r.salon_key},
            ":exp": _n(int((now + RESERVATION_TTL).timestamp())),
        }
        set_expr = "SET #state = :reserved, amount = :amt, salon_key = :skey, expires_at = :exp"
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
        if r.customer_key is not None:
            items.append(
                self._counter_update(r.customer_key, r.amount_usd, customer_cap, _expires(day))
            )
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
        if delta != 0:
            # The reserve created the counters with their TTL, and they outlive the
            # reservation. Only a customer's counter may have been deleted since (erasure):
            # recreated, it gets its TTL again.
            items.append(self._counter_update(r.salon_key, delta, None, None))
            if r.customer_key is not None:
                day = dt.date.fromisoformat(r.salon_day)
                items.append(self._counter_update(r.customer_key, delta, None, _expires(day)))
            if r.global_key is not None:
                items.append(self._counter_update(r.global_key, delta, None, None))
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

    def _existing(self, reservation_id: str, customer_phone: str | None) -> Reservation:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"resv#{reservation_id}"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None or item["state"]["S"] != RESERVED:
            raise ValueError(f"reservation id {reservation_id!r} was already used and settled")
        key = item["salon_key"]["S"]
        _, salon, day = key.split("#")
        customer = None
        if customer_phone is not None:
            customer = customer_day_key(salon, customer_phone, dt.date.fromisoformat(day))
        return Reservation(
            reservation_id=reservation_id,
            salon_id=salon,
            amount_usd=from_units(item["amount"]["N"]),
            salon_day=day,
            salon_key=key,
            global_key=item["global_key"]["S"] if "global_key" in item else None,
            customer_key=customer,
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

    def _roomiest_shard(
        self, day: dt.date, per_shard: Decimal, shards: int
    ) -> tuple[int, Decimal] | None:
        keys = [global_key(day, s) for s in range(shards)]
        spent = self._read_spent(keys)
        rooms = [(s, per_shard - spent.get(k, Decimal(0))) for s, k in enumerate(keys)]
        return max(rooms, key=lambda room: room[1], default=None)

    def _refused(
        self, scope: str, salon_id: str, amount: Decimal, customer: str | None = None
    ) -> NoReturn:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics.add_metric(name=MetricName.BUDGET_REFUSALS, unit=MetricUnit.Count, value=1)
        logger.warning(
            "cost guard refused a model call",
            scope=scope,
            salon_id=salon_id,
            amount_usd=str(amount),
            customer_key=customer.split("#")[2] if customer else None,
        )
        raise BudgetExceeded(f"{scope} daily budget reached")


def from_settings(
    settings: Settings, client: DynamoDBClient | None = None
) -> DynamoCostGuard | None:
    """The guard the processor uses, built once per container: DynamoDB when `COST_TABLE`
    is set (caps: each customer's and each salon's budget and `GLOBAL_DAILY_BUDGET_USD`
    over `COST_GUARD_SHARDS` shards, a changed count applying from the next UTC day);
    None when there is no table (unlimited spend)."""
    if not settings.cost_table:
        return None
    return DynamoCostGuard(
        settings.cost_table,
        global_daily_budget_usd=Decimal(str(settings.global_daily_budget_usd)),
        shards=settings.cost_guard_shards,
        client=client,
    )
