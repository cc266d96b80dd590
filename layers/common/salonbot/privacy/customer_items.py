"""DynamoDB items that name one customer, and their deletion.

Each kind of item says which table holds it (by the setting that names the table), the
table's key attribute, and how to find one customer's items: exact keys (the webhook's
record of each WhatsApp message id) or key prefixes (the throttle's windows, the cost
guard's reservations), which a Scan of the table's keys finds. A new kind of item keyed
on a customer is one more entry in `ITEM_KINDS`; the erasure test scans every table of
the template for the phone afterwards, so a kind left out shows up there.

WhatsApp message ids (wamids) are personal data too: the Cloud API encodes the
customer's number in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from salonbot.assistant.throttle import window_key_prefix
from salonbot.cost.guard import customer_key_prefix
from salonbot.errors import ErasureFailed
from salonbot.inbound.dedupe import dedupe_key, latest_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from mypy_boto3_dynamodb import DynamoDBClient

    from salonbot.config import Settings


@dataclass(frozen=True)
class CustomerRef:
    """One customer of one salon, and the WhatsApp message ids PostgreSQL knew for them."""

    salon_id: str
    phone: str  # E.164, or a WhatsApp user id
    message_ids: tuple[str, ...] = ()
    phone_number_id: str | None = None  # the salon's WhatsApp number, if it has one

    @property
    def phone_forms(self) -> tuple[str, ...]:
        """E.164 and WhatsApp's digits-only `wa_id`."""
        return (self.phone, self.phone.lstrip("+"))


def _none(_: CustomerRef) -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class ItemKind:
    name: str  # in the erasure report
    table_setting: str  # the `Settings` field naming the table
    key: str  # the table's partition key attribute
    exact: Callable[[CustomerRef], Iterable[str]] = _none
    prefixes: Callable[[CustomerRef], Iterable[str]] = _none


def _throttle_windows(c: CustomerRef) -> Iterable[str]:
    return [window_key_prefix(c.salon_id, phone) for phone in c.phone_forms]


def _seen_message_ids(c: CustomerRef) -> Iterable[str]:
    return [dedupe_key(m) for m in c.message_ids]


def _latest_messages(c: CustomerRef) -> Iterable[str]:
    # The webhook's record of the customer's latest message to the salon's number.
    if c.phone_number_id is None:
        return ()
    return sorted({latest_key(c.phone_number_id, phone) for phone in c.phone_forms})


def _cost_reservations(c: CustomerRef) -> Iterable[str]:
    # The agent's reservation ids are `<message id>:<random>`, its items `resv#<id>`
    # (salonbot.cost.guard); an API turn's (`api:...`) name no customer.
    return [f"resv#{m}:" for m in c.message_ids]


def _cost_customer_counters(c: CustomerRef) -> Iterable[str]:
    # Keyed on a salted hash of the phone, one item a day (salonbot.cost.guard).
    return [customer_key_prefix(c.salon_id, c.phone)]


ITEM_KINDS: tuple[ItemKind, ...] = (
    ItemKind("throttle_windows", "rate_limit_table", "pk", prefixes=_throttle_windows),
    ItemKind("seen_message_ids", "idempotency_table", "id", exact=_seen_message_ids),
    ItemKind("latest_messages", "idempotency_table", "id", exact=_latest_messages),
    ItemKind("cost_reservations", "cost_table", "pk", prefixes=_cost_reservations),
    ItemKind("cost_customer_counters", "cost_table", "pk", prefixes=_cost_customer_counters),
)


class CustomerItems:
    """Deletes a customer's items from the tables it is given (setting name -> table)."""

    def __init__(
        self,
        tables: Mapping[str, str | None],
        *,
        client: DynamoDBClient | None = None,
        kinds: tuple[ItemKind, ...] = ITEM_KINDS,
    ) -> None:
        self._tables = {k: v for k, v in tables.items() if v}
        self._client = client
        self._kinds = kinds

    @classmethod
    def from_settings(
        cls, settings: Settings, client: DynamoDBClient | None = None
    ) -> CustomerItems:
        tables = {kind.table_setting: getattr(settings, kind.table_setting) for kind in ITEM_KINDS}
        return cls(tables, client=client)

    @property
    def not_configured(self) -> list[str]:
        """Kinds whose table this process was not given: nothing was deleted there."""
        return [k.name for k in self._kinds if k.table_setting not in self._tables]

    def erase(self, customer: CustomerRef) -> dict[str, int]:
        """Items deleted, per kind; ErasureFailed when DynamoDB refused."""
        deleted: dict[str, int] = {}
        try:
            for kind in self._kinds:
                table = self._tables.get(kind.table_setting)
                if table is None:
                    continue
                keys = {k for k in kind.exact(customer) if k}
                prefixes = tuple(p for p in kind.prefixes(customer) if p)
                if prefixes:
                    keys |= self._matching_keys(table, kind.key, prefixes)
                deleted[kind.name] = sum(self._delete(table, kind.key, k) for k in sorted(keys))
        except (ClientError, BotoCoreError) as exc:
            raise ErasureFailed(f"DynamoDB refused the erasure: {type(exc).__name__}") from exc
        return deleted

    def _dynamodb(self) -> DynamoDBClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _matching_keys(self, table: str, key: str, prefixes: tuple[str, ...]) -> set[str]:
        """Every key of `table` that starts with one of `prefixes`: a Scan of the keys
        only, page by page (erasure is rare; these tables hold days of items at most)."""
        found: set[str] = set()
        request: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": "#k",
            "ExpressionAttributeNames": {"#k": key},
        }
        while True:
            page = self._dynamodb().scan(**request)
            for item in page.get("Items", []):
                value = item.get(key, {}).get("S", "")
                if value.startswith(prefixes):
                    found.add(value)
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, table: str, key: str, value: str) -> int:
        response = self._dynamodb().delete_item(
            TableName=table, Key={key: {"S": value}}, ReturnValues="ALL_OLD"
        )
        return 1 if response.get("Attributes") else 0
