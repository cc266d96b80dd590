"""ProcessorFunction: customer messages and delivery statuses from the SQS FIFO queue.

The FIFO partial-batch processor reports failed records back to SQS; with
`skip_group_on_error` a failure holds back only the later messages of the same customer
(the same message group), never another customer's. Each record it reports comes back
after a short, growing delay rather than the queue's visibility timeout
(`salonbot.processing.retry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from salonbot.observability import count_error, logger, metrics, tracer
from salonbot.processing.queue import process_queue_body
from salonbot.processing.retry import RetryingFifoProcessor
from salonbot.time_budget import check_record_start, invocation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

batch = RetryingFifoProcessor(skip_group_on_error=True)


def record_handler(record: SQSRecord) -> None:
    check_record_start()
    try:
        process_queue_body(record.body)
    except Exception:
        # The batch processor logs a failed record only at debug level: a message that
        # fails on every receive would hold back its customer's group unseen.
        count_error("processing")
        logger.exception(
            "record failed: returned to the queue", extra={"sqs_message_id": record.message_id}
        )
        raise


# clear_state: the keys one message appended (its id, its conversation) never reach the
# logs of the next invocation this container serves.
@logger.inject_lambda_context(correlation_id_path="Records[0].messageId", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
# Responses stay out of X-Ray: they may name customers (docs/privacy.md).
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with invocation(context.get_remaining_time_in_millis()):
        return process_partial_response(
            event=event, record_handler=record_handler, processor=batch, context=context
        )
