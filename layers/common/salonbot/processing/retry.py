"""A failed queue message comes back soon, and later each time it fails again.

SQS makes a message that was not deleted visible again after the queue's visibility
timeout: 360 s, six times the processor's timeout, as Lambda advises for a message still
in flight. For a message that failed, six minutes is long: a customer waits behind a
database blip, and FIFO holds their later messages back as long. So before a failed
record is reported in `batchItemFailures`, its visibility is set to
`QUEUE_RETRY_BASE_S * 2 ** (receives - 1)` seconds, capped at `QUEUE_RETRY_MAX_S`: 10,
20, 40, 80, 160, 320, then 360 s by default. With the queue's `maxReceiveCount` of 10 a
message reaches the DLQ about 28 minutes after its first failure, no sooner than the
five receives 360 s apart did before. A record the FIFO processor skipped because an
earlier one of its group failed gets the same treatment, by its own receive count.

Only failures that a retry may cure get here: the model path answers from the fallback
engine whatever it raises (`salonbot.assistant.router`). Shortening a visibility is best
effort: when it fails, the message simply returns after the queue's own timeout."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

from salonbot.config import get_settings
from salonbot.observability import count_error, logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.batch import ExceptionInfo, FailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from salonbot.config import Settings

# SQS's own bounds for a message's visibility timeout.
MAX_VISIBILITY_S = 43_200


class VisibilityBackoff:
    def __init__(self, *, base_s: int, max_s: int, client: Any = None) -> None:
        self.base_s = base_s
        self.max_s = min(max_s, MAX_VISIBILITY_S)
        self._client = client
        self._queue_urls: dict[str, str] = {}

    def delay_s(self, receive_count: int) -> int:
        """Seconds until a message that failed its `receive_count`th receive returns."""
        exponent = min(max(receive_count, 1) - 1, 32)  # 2**32 * base is past any cap
        return int(min(self.base_s * 2**exponent, self.max_s))

    def retry_later(self, record: SQSRecord) -> None:
        """Make the failed `record` visible again after its delay (best effort)."""
        try:
            count = int(record.attributes.approximate_receive_count or 1)
        except ValueError:
            count = 1
        delay = self.delay_s(count)
        try:
            client = self._sqs()
            client.change_message_visibility(
                QueueUrl=self._queue_url(client, record.event_source_arn),
                ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=delay,
            )
        except Exception:
            count_error("retry_backoff")
            logger.warning(
                "failed message keeps the queue's visibility timeout",
                extra={"sqs_message_id": record.message_id},
                exc_info=True,
            )
            return
        logger.info(
            "failed message returns to the queue soon",
            extra={"sqs_message_id": record.message_id, "receive_count": count, "delay_s": delay},
        )

    def _sqs(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # A failing message must not also hang its invocation on SQS.
            config = Config(
                connect_timeout=2,
                read_timeout=3,
                retries={"mode": "standard", "total_max_attempts": 2},
            )
            self._client = boto3.client("sqs", config=config)
        return self._client

    def _queue_url(self, client: Any, queue_arn: str) -> str:
        """The queue's URL from its ARN (`arn:<partition>:sqs:<region>:<account>:<name>`),
        asked of SQS once per container: the URL's host depends on the partition and the
        endpoint."""
        url = self._queue_urls.get(queue_arn)
        if url is None:
            *_, account, name = queue_arn.split(":")
            url = str(
                client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            )
            self._queue_urls[queue_arn] = url
        return url


def default_backoff() -> VisibilityBackoff:
    """The container's backoff, for its settings (and so its AWS endpoint)."""
    return _backoff_for(get_settings())


@lru_cache(maxsize=2)
def _backoff_for(settings: Settings) -> VisibilityBackoff:
    return VisibilityBackoff(base_s=settings.queue_retry_base_s, max_s=settings.queue_retry_max_s)


class RetryingFifoProcessor(SqsFifoPartialProcessor):
    """The FIFO partial-batch processor, with every record it reports as failed (tried or
    skipped behind a failed one of its group) sent back with a short visibility."""

    def __init__(
        self, *, backoff: Callable[[], VisibilityBackoff] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._backoff = backoff

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        response = super().failure_handler(record, exception)
        backoff = self._backoff() if self._backoff is not None else default_backoff()
        backoff.retry_later(record)
        return response
