"""The backoff of a failed queue message: how soon it comes back, how long its retries
last before the DLQ, and that every record the FIFO processor reports as failed gets it."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from salonbot.config import Settings
from salonbot.processing.retry import RetryingFifoProcessor, VisibilityBackoff
from tests.conftest import REPO_ROOT

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:salonbot-InboundQueue.fifo"
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/salonbot-InboundQueue.fifo"


def _template_queue() -> dict[str, Any]:
    from salonbot_dev.local.template import Template

    properties: dict[str, Any] = Template.load(REPO_ROOT / "template.yaml").resources[
        "InboundQueue"
    ]["Properties"]
    return properties


class FakeSqs:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.changes: list[tuple[str, str, int]] = []
        self.lookups: list[tuple[str, str]] = []

    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str) -> dict[str, str]:
        self.lookups.append((QueueName, QueueOwnerAWSAccountId))
        return {"QueueUrl": QUEUE_URL}

    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> None:
        if self.fail:
            raise ConnectionError("SQS unreachable")
        self.changes.append((QueueUrl, ReceiptHandle, VisibilityTimeout))


def record(message_id: str, receives: int, group: str = "100:7900") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": "{}",
        "attributes": {"ApproximateReceiveCount": str(receives), "MessageGroupId": group},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "eu-west-1",
    }


def test_the_default_backoff_starts_short_and_outlasts_the_old_retry_window() -> None:
    # Given the defaults and the template's queue
    defaults = Settings()
    queue = _template_queue()
    backoff = VisibilityBackoff(
        base_s=defaults.queue_retry_base_s, max_s=defaults.queue_retry_max_s
    )
    receives = int(queue["RedrivePolicy"]["maxReceiveCount"])

    # Then a failed message returns after 10 s, doubling, never later than the queue would
    delays = [backoff.delay_s(n) for n in range(1, receives)]
    assert delays == [10, 20, 40, 80, 160, 320, 360, 360, 360]
    assert max(delays) <= queue["VisibilityTimeout"]
    # and it reaches the DLQ no sooner than five receives 360 s apart did (24 minutes):
    # a database outage that long still loses no message to the DLQ
    assert sum(delays) >= 4 * 360


@pytest.mark.parametrize(("receives", "delay"), [(0, 10), (1, 10), (3, 40), (10_000, 360)])
def test_the_delay_is_bounded_whatever_the_receive_count(receives: int, delay: int) -> None:
    assert VisibilityBackoff(base_s=10, max_s=360).delay_s(receives) == delay


def test_a_failed_record_and_the_skipped_one_behind_it_come_back_by_their_own_count() -> None:
    # Given two messages of one customer, the first failing
    sqs = FakeSqs()
    backoff = VisibilityBackoff(base_s=10, max_s=360, client=sqs)
    processor = RetryingFifoProcessor(skip_group_on_error=True, backoff=lambda: backoff)
    event = {"Records": [record("first", receives=3), record("second", receives=1)]}

    def fail(record: Any) -> None:
        raise RuntimeError("database down")

    # When the batch is processed, every record failed (the second skipped, untried)
    with pytest.raises(BatchProcessingError):
        process_partial_response(event=event, record_handler=fail, processor=processor)

    # Then each was made visible again after its own delay, the queue looked up once
    assert sqs.changes == [(QUEUE_URL, "handle-first", 40), (QUEUE_URL, "handle-second", 10)]
    assert sqs.lookups == [("salonbot-InboundQueue.fifo", "123456789012")]


def test_another_customers_message_is_deleted_and_not_delayed() -> None:
    sqs = FakeSqs()
    backoff = VisibilityBackoff(base_s=10, max_s=360, client=sqs)
    processor = RetryingFifoProcessor(skip_group_on_error=True, backoff=lambda: backoff)
    event = {"Records": [record("bad", 1, group="100:1"), record("good", 1, group="100:2")]}

    def handle(record: Any) -> None:
        if record.message_id == "bad":
            raise RuntimeError("database down")

    response = process_partial_response(event=event, record_handler=handle, processor=processor)

    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert sqs.changes == [(QUEUE_URL, "handle-bad", 10)]


def test_a_backoff_that_cannot_reach_sqs_leaves_the_failure_as_it_was() -> None:
    # Given SQS refusing the visibility change
    backoff = VisibilityBackoff(base_s=10, max_s=360, client=FakeSqs(fail=True))
    processor = RetryingFifoProcessor(skip_group_on_error=True, backoff=lambda: backoff)
    event = {"Records": [record("bad", 1, group="100:1"), record("good", 1, group="100:2")]}

    def handle(record: Any) -> None:
        if record.message_id == "bad":
            raise RuntimeError("database down")

    # Then the batch still reports the failed record (it returns after the queue's
    # visibility timeout) and the rest is processed
    response = process_partial_response(event=event, record_handler=handle, processor=processor)
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
