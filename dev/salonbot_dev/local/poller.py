"""Feed an SQS queue to a function the way Lambda's event source mapping does.

- Batches of up to `BatchSize` messages (a FIFO queue hands out at most 10 at a time and
  holds back a message group while any of its messages is in flight).
- The SQS record event shape, with `attributes` (ApproximateReceiveCount,
  MessageGroupId, ...) and `messageAttributes`.
- Success deletes the batch. A raised error deletes nothing. With
  `ReportBatchItemFailures`, the reported messages are kept and the rest deleted; an
  unknown or empty item identifier fails the whole batch, as in Lambda.
- Kept messages stay invisible until the queue's visibility timeout (or the shorter one
  the function set with `ChangeMessageVisibility`, as the processor does for a failed
  record), then come back; after `maxReceiveCount` receives the queue's redrive policy
  moves them to the DLQ (the queue service does it, as in AWS)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot_dev.local.functions import SqsSource

log = logging.getLogger("salonbot_dev.local.poller")

# Long-poll wait per receive; also how long stopping the poller may take.
RECEIVE_WAIT_S = 1
SQS_MAX_PER_RECEIVE = 10


@dataclass(frozen=True)
class BatchOutcome:
    received: int
    deleted: int
    kept: int


def to_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as a record of the event Lambda delivers."""
    attributes = {k: str(v) for k, v in (message.get("Attributes") or {}).items()}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": _b64(value.get("BinaryValue")),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": [_b64(v) for v in value.get("BinaryListValues", [])],
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _b64(value: bytes | None) -> str | None:
    import base64

    return None if value is None else base64.b64encode(value).decode("ascii")


def failed_ids(result: Any, message_ids: set[str]) -> set[str] | None:
    """Message ids a partial batch response reports; None means the whole batch failed."""
    if result is None:
        return set()
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            return None
        ids.add(identifier)
    return ids


@dataclass
class QueuePoller:
    """One event source mapping: a queue, a function, and a thread that polls."""

    sqs: Any  # boto3 SQS client
    queue_url: str
    source: SqsSource
    invoke: Callable[[dict[str, Any]], Any]
    region: str = "us-east-1"
    name: str = "poller"
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def receive(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages; waits up to RECEIVE_WAIT_S for the first."""
        messages: list[dict[str, Any]] = []
        window_ends = time.monotonic() + self.source.batching_window_s
        while len(messages) < self.source.batch_size and not self._stop.is_set():
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(
                    SQS_MAX_PER_RECEIVE, self.source.batch_size - len(messages)
                ),
                WaitTimeSeconds=0 if messages else RECEIVE_WAIT_S,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages") or []
            messages.extend(received)
            # Keep filling a batch only while messages keep coming within the window.
            if not received or time.monotonic() >= window_ends:
                break
        return messages

    def process(self, messages: list[dict[str, Any]]) -> BatchOutcome:
        """Invoke the function with one batch and settle it as Lambda would."""
        if not messages:
            return BatchOutcome(0, 0, 0)
        event = {"Records": [to_record(m, self.source.queue_arn, self.region) for m in messages]}
        try:
            result = self.invoke(event)
        except Exception:
            log.exception("%s: the function failed; the batch returns to the queue", self.name)
            return BatchOutcome(len(messages), 0, len(messages))
        ids = {m["MessageId"] for m in messages}
        failed = failed_ids(result, ids) if self.source.report_batch_item_failures else set()
        if failed is None:
            log.warning("%s: invalid batchItemFailures; the batch returns to the queue", self.name)
            return BatchOutcome(len(messages), 0, len(messages))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        if failed:
            log.warning("%s: %d message(s) failed and will be retried", self.name, len(failed))
        return BatchOutcome(len(messages), len(done), len(failed))

    def poll_once(self) -> BatchOutcome:
        return self.process(self.receive())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("%s: polling failed; retrying", self.name)
                self._stop.wait(1.0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
