"""The durable record of the WhatsApp message ids the webhook has accepted.

Meta retries a webhook for up to 7 days and may post the same message twice at once;
SQS FIFO only deduplicates within 5 minutes. Each message id is claimed with a
conditional put in DynamoDB before it is enqueued (IN_PROGRESS, with a short lease), and
marked COMPLETED once the queue has it; the record lives for `ttl_s`, longer than Meta
retries. A claim that fails to enqueue is released, and a lease left by a crashed
invocation lapses, so neither blocks Meta's next delivery.

Each claim carries its request's random token (`owner`), and release and complete are
conditional on it: a request whose lease lapsed and whose id another request has since
claimed cannot delete or overwrite that newer claim.

The layout is Powertools idempotency's: partition key `id`, TTL attribute `expiration`
(epoch seconds), `status`, and `in_progress_expiration` (epoch milliseconds); `owner` is
ours."""

from __future__ import annotations

import time
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from salonbot.inbound.errors import DedupeUnavailable
from salonbot.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mypy_boto3_dynamodb.client import DynamoDBClient

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
# Meta retries for 7 days; a day more covers its last attempt and clock skew.
DEFAULT_TTL_S = 8 * 24 * 3600
# Longer than the webhook function's timeout (template.yaml, checked by a unit test): a
# live request's claim is never taken over.
DEFAULT_LEASE_S = 30.0
# A customer's latest-message record outlives any burst by far.
LATEST_TTL_S = 24 * 3600
# How long a request waits for another one holding the same id to finish (seconds).
DEFAULT_BUSY_WAITS = (0.05, 0.1, 0.2, 0.4)

_CLAIM_CONDITION = (
    "attribute_not_exists(#id) OR #expiration < :now "
    "OR (#status = :in_progress AND #lease < :now_ms)"
)
_NAMES = {
    "#id": "id",
    "#expiration": "expiration",
    "#status": "status",
    "#lease": "in_progress_expiration",
}
_OWNED = "#owner = :me"


class Claim(Enum):
    CLAIMED = "claimed"  # this request enqueues the message
    DUPLICATE = "duplicate"  # accepted before: nothing to do
    BUSY = "busy"  # another request holds it and has not finished


class SeenMessages(Protocol):
    """What the intake needs from the record of seen message ids."""

    def claim(self, key: str, now: float, owner: str) -> Claim: ...

    def complete(self, key: str, now: float, owner: str) -> None: ...

    def release(self, key: str, owner: str) -> None: ...

    def note_latest(
        self, phone_number_id: str, wa_id: str, message_id: str, timestamp: int, now: float
    ) -> None: ...


def dedupe_key(message_id: str) -> str:
    return f"wamid#{message_id}"


def latest_key(phone_number_id: str, wa_id: str) -> str:
    """The record of a customer's latest message to a salon's number, which the processor
    reads to answer a burst once. The customer comes first: erasure finds their records
    by prefix (`latest_key_prefix`)."""
    return f"{latest_key_prefix(wa_id)}{phone_number_id}"


def latest_key_prefix(wa_id: str) -> str:
    return f"latest#{wa_id.lstrip('+')}#"


class DynamoSeenMessages:
    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        ttl_s: int = DEFAULT_TTL_S,
        lease_s: float = DEFAULT_LEASE_S,
        busy_waits: Sequence[float] = DEFAULT_BUSY_WAITS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._client = client
        self._table = table_name
        self._ttl_s = ttl_s
        self._lease_s = lease_s
        self._busy_waits = tuple(busy_waits)
        self._sleep = sleep

    def claim(self, key: str, now: float, owner: str) -> Claim:
        """Claim `key` for the request `owner` (a random token, one per request)."""
        found = self._put_in_progress(key, now, owner)
        if found is None:
            return Claim.CLAIMED
        for wait in self._busy_waits:
            if found.get("status", {}).get("S") == COMPLETED:
                return Claim.DUPLICATE
            self._sleep(wait)
            now += wait
            found = self._put_in_progress(key, now, owner)
            if found is None:
                return Claim.CLAIMED
        if found.get("status", {}).get("S") == COMPLETED:
            return Claim.DUPLICATE
        return Claim.BUSY

    def complete(self, key: str, now: float, owner: str) -> None:
        """Mark `owner`'s claim accepted. If another request has taken the id over (this
        one's lease lapsed), its record is left alone: that request settles it."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": key},
                    "status": {"S": COMPLETED},
                    "expiration": {"N": str(int(now + self._ttl_s))},
                    "owner": {"S": owner},
                },
                ConditionExpression=_OWNED,
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise DedupeUnavailable(f"cannot mark {key} accepted") from exc
            logger.warning("claim taken over by another request; not marked accepted here")
        except BotoCoreError as exc:
            raise DedupeUnavailable(f"cannot mark {key} accepted") from exc

    def release(self, key: str, owner: str) -> None:
        """Forget `owner`'s unfinished claim so Meta's next delivery is enqueued; a newer
        request's claim of the same id is left alone. Best effort: if this fails too,
        the lease lapses after `lease_s`."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"id": {"S": key}},
                ConditionExpression=f"#status = :in_progress AND {_OWNED}",
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":me": {"S": owner},
                },
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                logger.warning("claim not released; its lease will lapse", exc_info=True)
        except BotoCoreError:
            logger.warning("claim not released; its lease will lapse", exc_info=True)

    def note_latest(
        self, phone_number_id: str, wa_id: str, message_id: str, timestamp: int, now: float
    ) -> None:
        """Record `message_id` (sent at `timestamp`) as the customer's latest message,
        unless a later one is recorded already. Best effort: a lost record only means a
        burst is answered message by message."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": latest_key(phone_number_id, wa_id)},
                    "message_id": {"S": message_id},
                    "sent_at": {"N": str(timestamp)},
                    "expiration": {"N": str(int(now + LATEST_TTL_S))},
                },
                ConditionExpression="attribute_not_exists(#id) OR #sent_at <= :sent_at",
                ExpressionAttributeNames={"#id": "id", "#sent_at": "sent_at"},
                ExpressionAttributeValues={":sent_at": {"N": str(timestamp)}},
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                logger.warning("latest message not recorded", extra={"error": _error_code(exc)})
        except BotoCoreError:
            logger.warning("latest message not recorded", exc_info=True)

    def _put_in_progress(self, key: str, now: float, owner: str) -> dict[str, Any] | None:
        """None when claimed; else the record that holds the id."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": key},
                    "status": {"S": IN_PROGRESS},
                    "expiration": {"N": str(int(now + self._ttl_s))},
                    "in_progress_expiration": {"N": str(int((now + self._lease_s) * 1000))},
                    "owner": {"S": owner},
                },
                ConditionExpression=_CLAIM_CONDITION,
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":now_ms": {"N": str(int(now * 1000))},
                    ":in_progress": {"S": IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise DedupeUnavailable(f"cannot claim {key}") from exc
            item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            return item if item is not None else self._read(key)
        except BotoCoreError as exc:
            raise DedupeUnavailable(f"cannot claim {key}") from exc
        return None

    def _read(self, key: str) -> dict[str, Any]:
        try:
            response = self._client.get_item(
                TableName=self._table, Key={"id": {"S": key}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise DedupeUnavailable(f"cannot read {key}") from exc
        # Gone between the put and the read (released): report it as still busy.
        return dict(response.get("Item") or {"status": {"S": IN_PROGRESS}})


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
