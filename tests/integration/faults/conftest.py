"""Fault tests: the inbound queue and its DLQ built from template.yaml's own properties
on moto in server mode (127.0.0.1), the ProcessorFunction handler from
`functions/processor/app.py` fed by the local poller as Lambda's event source mapping
would, and a processor wired like production around the test's fakes."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from salonbot.processing import queue as processing_queue
from salonbot.processing import retry as processing_retry
from salonbot.processing.pipeline import MessageProcessor
from salonbot.processing.retry import VisibilityBackoff
from salonbot_dev.local.aws_resources import AwsClients, ResourceBuilder
from salonbot_dev.local.functions import FunctionSpec, SqsSource
from salonbot_dev.local.handlers import LocalFunction
from salonbot_dev.local.poller import BatchOutcome, QueuePoller
from salonbot_dev.local.template import Resolver, Template
from tests.conftest import REPO_ROOT

# The fake model and the fake send API, one of each per test, as the processor tests use.
from tests.integration.processor.conftest import fake_openai, fake_whatsapp  # noqa: F401

REGION = "eu-west-1"
TEMPLATE = Template.load(REPO_ROOT / "template.yaml")
# Seconds a failed message stays invisible; the template's 360 s would make tests wait.
TEST_VISIBILITY_TIMEOUT_S = 1


@dataclass
class Queues:
    clients: AwsClients
    inbound_url: str
    inbound_arn: str
    dlq_url: str
    dlq_name: str
    max_receive_count: int

    def counts(self, url: str) -> tuple[int, int]:
        """(visible, in flight): CloudWatch's ApproximateNumberOfMessagesVisible and
        ApproximateNumberOfMessagesNotVisible are these attributes."""
        attributes = self.clients.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def send(self, body: str, *, group: str, dedup_id: str) -> None:
        """As the webhook enqueues: group = salon number + customer, dedup id = wamid."""
        self.clients.sqs.send_message(
            QueueUrl=self.inbound_url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=dedup_id,
        )


def template_queues(moto_url: str, *, visibility_timeout_s: int | None = None) -> Queues:
    """InboundQueue and DeadLetterQueue exactly as template.yaml declares them, with
    another visibility timeout if given."""
    resources = {
        name: copy.deepcopy(TEMPLATE.resources[name])
        for name in ("InboundQueue", "DeadLetterQueue")
    }
    if visibility_timeout_s is not None:
        resources["InboundQueue"]["Properties"]["VisibilityTimeout"] = visibility_timeout_s
    resolver = Resolver(
        Template({"Resources": resources}), region=REGION, stack_name=f"f{time.monotonic_ns()}"
    )
    clients = AwsClients.for_endpoint(moto_url, REGION)
    ResourceBuilder(resolver, clients).create_all()
    redrive = resources["InboundQueue"]["Properties"]["RedrivePolicy"]
    return Queues(
        clients=clients,
        inbound_url=resolver.ref("InboundQueue"),
        inbound_arn=resolver.get_att("InboundQueue", "Arn"),
        dlq_url=resolver.ref("DeadLetterQueue"),
        dlq_name=resolver.get_att("DeadLetterQueue", "QueueName"),
        max_receive_count=int(redrive["maxReceiveCount"]),
    )


@pytest.fixture
def queues(moto_url: str) -> Queues:
    """The template's queues, but for a short visibility timeout."""
    return template_queues(moto_url, visibility_timeout_s=TEST_VISIBILITY_TIMEOUT_S)


@dataclass
class ProcessorRig:
    """The ProcessorFunction handler behind the poller, and what each invocation saw."""

    poller: QueuePoller
    receive_counts: list[list[int]] = field(default_factory=list)

    def poll_until_received(self, timeout_s: float = 10.0) -> BatchOutcome:
        """One batch, waiting for a kept message's visibility timeout if need be."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            outcome = self.poller.poll_once()
            if outcome.received:
                return outcome
        raise AssertionError("no message became visible in time")


@pytest.fixture
def processor_rig(queues: Queues, monkeypatch: pytest.MonkeyPatch) -> Callable[..., ProcessorRig]:
    """`rig(processor)`: the real handler (FIFO partial batches, ReportBatchItemFailures
    as the template's event source says) with `processor` as the container's processor,
    fed from `queues` (or `on`). A failed message comes back after `backoff` (default:
    the short test visibility timeout on every receive), set as production sets it."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    function = TEMPLATE.function_properties("ProcessorFunction")
    event = function["Events"]["Inbound"]["Properties"]

    def rig(
        processor: MessageProcessor,
        backoff: VisibilityBackoff | None = None,
        *,
        on: Queues | None = None,
    ) -> ProcessorRig:
        target = on or queues
        source = SqsSource(
            queue_arn=target.inbound_arn,
            batch_size=int(event["BatchSize"]),
            report_batch_item_failures="ReportBatchItemFailures" in event["FunctionResponseTypes"],
        )
        spec = FunctionSpec(
            logical_id="ProcessorFunction",
            code_dir=REPO_ROOT / "functions" / "processor",
            handler=function["Handler"],
            timeout_s=int(function["Timeout"]),
            memory_mb=int(function["MemorySize"]),
            environment={},
            sqs_sources=[source],
        )
        local = LocalFunction(spec, region=REGION)
        monkeypatch.setattr(processing_queue, "default_processor", lambda: processor)
        backoff = backoff or VisibilityBackoff(
            base_s=TEST_VISIBILITY_TIMEOUT_S,
            max_s=TEST_VISIBILITY_TIMEOUT_S,
            client=target.clients.sqs,
        )
        monkeypatch.setattr(processing_retry, "default_backoff", lambda: backoff)
        state = ProcessorRig(
            QueuePoller(target.clients.sqs, target.inbound_url, source, lambda e: None)
        )

        def invoke(event: dict[str, Any]) -> Any:
            state.receive_counts.append(
                [int(r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"]]
            )
            return local.invoke(event)

        state.poller.invoke = invoke
        return state

    return rig
