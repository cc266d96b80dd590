"""Make moto's SQS linear in the queue's depth where it reads one attribute.

moto computes `Queue.attributes` (every attribute, including the three approximate
message counts, each a scan of the whole queue calling the clock per message) to read a
single one: `ContentBasedDeduplication` several times per FIFO send, and
`MessageRetentionPeriod` for every message a receive returns. With a backlog of a
thousand messages each send and receive scans the queue a dozen times: a burst of 2,000
webhooks through the local stack slowed to about 2 messages a second. These two reads
now take the queue's own fields; what any call returns is unchanged (the counts are
still computed whenever the attributes are asked for)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_patched = False
_reading_dedup = threading.local()


@contextmanager
def _dedup_only() -> Iterator[None]:
    previous = getattr(_reading_dedup, "on", False)
    _reading_dedup.on = True
    try:
        yield
    finally:
        _reading_dedup.on = previous


def speed_up_moto_sqs() -> None:
    """Patch moto's SQS backend once per process (idempotent)."""
    global _patched
    if _patched:
        return
    from moto.core.utils import unix_time
    from moto.sqs import models

    queue_class: Any = models.Queue
    backend_class: Any = models.SQSBackend
    full_attributes = queue_class.attributes

    def attributes(self: Any) -> dict[str, Any]:
        # Within a send and its validation moto reads only ContentBasedDeduplication.
        if getattr(_reading_dedup, "on", False):
            return {
                "ContentBasedDeduplication": str(bool(self.content_based_deduplication)).lower()
            }
        result: dict[str, Any] = full_attributes.fget(self)
        return result

    def within_send(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _dedup_only():
                return method(*args, **kwargs)

        return wrapper

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
        return bool(retain_until > unix_time())

    queue_class.attributes = property(attributes)
    backend_class.send_message = within_send(backend_class.send_message)
    backend_class._validate_message = within_send(backend_class._validate_message)
    backend_class.is_message_valid_based_on_retention_period = retained
    _patched = True
