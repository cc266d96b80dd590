"""Queue events onto the SQS FIFO queue: one message per event, in Meta's order.

Group: the salon's number and the customer (per-customer order). Deduplication id: the
WhatsApp message id (a status: message id and status), so SQS drops a repeat within its
5-minute window even if the durable record missed it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from salonbot.observability import logger

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

# SQS limits: 10 entries and 256 KiB per batch; ids of at most 128 characters from
# alphanumerics and punctuation.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
_SQS_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass(frozen=True)
class QueueMessage:
    body: str
    group_id: str
    deduplication_id: str


class EventQueue(Protocol):
    def send(self, messages: Sequence[QueueMessage]) -> set[int]:
        """Send all; the positions of those the queue did not accept."""
        ...


def sqs_id(value: str) -> str:
    """`value` if SQS accepts it as a group or deduplication id, else its SHA-256."""
    if _SQS_ID.match(value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()


class SqsEventQueue:
    def __init__(self, queue_url: str, *, client: SQSClient | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self._client = client
        self._url = queue_url

    def send(self, messages: Sequence[QueueMessage]) -> set[int]:
        failed: set[int] = set()
        chunks = _chunks(messages)
        for number, chunk in enumerate(chunks):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {
                    "Id": str(position),
                    "MessageBody": messages[position].body,
                    "MessageGroupId": sqs_id(messages[position].group_id),
                    "MessageDeduplicationId": sqs_id(messages[position].deduplication_id),
                }
                for position in chunk
            ]
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                logger.error("queue unavailable", extra={"error": type(exc).__name__})
                # Later events wait for Meta's retry too, so a customer's order holds.
                for rest in chunks[number:]:
                    failed.update(rest)
                break
            for entry in response.get("Failed", []):
                logger.error(
                    "queue refused an event",
                    extra={"code": entry.get("Code"), "sender_fault": entry.get("SenderFault")},
                )
                failed.add(int(entry["Id"]))
        return failed


def _chunks(messages: Sequence[QueueMessage]) -> list[list[int]]:
    """Positions grouped into batches within SQS's count and size limits."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for position, message in enumerate(messages):
        length = len(message.body.encode())
        if current and (len(current) == MAX_BATCH_ENTRIES or size + length > MAX_BATCH_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(position)
        size += length
    if current:
        chunks.append(current)
    return chunks
