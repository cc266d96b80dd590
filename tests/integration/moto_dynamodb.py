"""DynamoDB in moto for the cost guard and alert tests.

moto runs each DynamoDB request without isolation from the others, and rolls a
cancelled transaction back by restoring a copy of the whole table, which can undo a
concurrent writer's committed update. Real DynamoDB serializes conflicting transactions.
`serialized_dynamodb()` gives moto that guarantee (one request at a time) so concurrency
tests check the guard's conditions, not moto's missing isolation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

COST_TABLE = "salonbot-cost"


def create_cost_table(client: Any, name: str = COST_TABLE) -> str:
    """The cost table as template.yaml declares it: hash key `pk`, TTL on `expires_at`."""
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    return name


_SERIALIZED = (
    "transact_write_items",
    "update_item",
    "put_item",
    "get_item",
    "batch_get_item",
)


@contextmanager
def serialized_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    lock = threading.RLock()
    for name in _SERIALIZED:
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)
    yield
