"""Poison messages: a model answer of a shape outside the API reference (a tool call
without its function, `message: null`, no choices, ...) is answered once by the guided flow and
counted, and its message is deleted from the queue; it never cycles through SQS paying
for the model on every receive. A transient failure (the database) returns the message
after a short backoff, not after the queue's 360 s visibility timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from salonbot.assistant import router as router_module
from salonbot.db.connection import Connection
from salonbot.processing.retry import VisibilityBackoff
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, Raw
from tests.integration.faults.conftest import TEMPLATE, ProcessorRig, Queues, template_queues
from tests.integration.processor.guided_harness import Customer, production_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    DEMO_PHONE_NUMBER_ID,
    Clock,
    import_demo_salon,
    rows,
    settings_for,
)

pytestmark = pytest.mark.integration

GROUP = f"{DEMO_PHONE_NUMBER_ID}:{CUSTOMER.lstrip('+')}"
# What the guided flow answers "Хочу на маникюр" with: the masters who do manicures.
GUIDED_MASTERS = ["Любой мастер", "Анна", "Мария"]
PROMPT_TOKENS, COMPLETION_TOKENS = 900, 12


def _completion(choices: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-poison",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": choices,
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }


def _message(**fields: Any) -> list[dict[str, Any]]:
    message = {"role": "assistant", "content": None, **fields}
    return [{"index": 0, "finish_reason": "tool_calls", "message": message}]


# Each a 200 the SDK hands over without checking its shape. (A `custom` tool call is in
# the reference: it is refused to the model and the turn goes on, tests/integration/
# processor/test_openai_shapes.py.)
POISON: dict[str, dict[str, Any]] = {
    "tool_call_without_function": _completion(
        _message(tool_calls=[{"id": "call_1", "type": "function"}])
    ),
    "tool_calls_not_a_list": _completion(_message(tool_calls="book")),
    "arguments_not_a_string": _completion(
        _message(
            tool_calls=[
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "slots", "arguments": {"service": "manicure"}},
                }
            ]
        )
    ),
    "content_not_text": _completion(_message(content=42)),
    "message_null": _completion([{"index": 0, "finish_reason": "stop", "message": None}]),
    "choice_null": _completion([None]),
    "choices_not_a_list": _completion("none"),
    "no_choices": _completion([]),
}


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kinds of error the router counts."""
    kinds: list[str] = []
    monkeypatch.setattr(router_module, "count_error", kinds.append)
    return kinds


@pytest.mark.parametrize("shape", list(POISON))
def test_a_model_answer_of_an_unexpected_shape_is_answered_once_by_the_guided_flow(
    db: Connection,
    queues: Queues,
    processor_rig: Callable[..., ProcessorRig],
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    errors: list[str],
    shape: str,
) -> None:
    # Given a model that answers with this shape, behind the real ProcessorFunction handler
    import_demo_salon(db)
    harness = production_harness(db, settings_for(fake_openai, fake_whatsapp), clock=Clock())
    rig = processor_rig(harness.processor)
    fake_openai.add(Raw(POISON[shape]))
    queues.send(harness.body("Хочу на маникюр", wamid="wamid.poison.1"), group=GROUP, dedup_id="1")

    # When the queue delivers the customer's message
    outcome = rig.poller.poll_once()

    # Then it was processed once and deleted: not reported in batchItemFailures
    assert (outcome.received, outcome.deleted, outcome.kept) == (1, 1, 0)
    assert queues.counts(queues.inbound_url) == (0, 0)
    assert queues.counts(queues.dlq_url) == (0, 0)
    assert rig.receive_counts == [[1]]
    # and the model was asked once, its failure counted
    assert len(fake_openai.requests) == 1
    assert errors == ["model"]
    # and the customer got the guided flow's next step, once
    customer = Customer(harness, fake_whatsapp)
    customer._collect()
    assert customer.titles() == GUIDED_MASTERS
    assert len(fake_whatsapp.sent) == 1
    (ledger,) = rows(db, "SELECT reply_status FROM inbound_messages")
    assert ledger["reply_status"] == "sent"
    # and the call that answered is on the reply's row: it was paid for
    (reply,) = rows(db, "SELECT prompt_tokens, model FROM ai_messages WHERE role = 'assistant'")
    assert reply["prompt_tokens"] == PROMPT_TOKENS


def test_a_bug_outside_the_model_call_is_answered_by_the_guided_flow(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, errors: list[str]
) -> None:
    # Given an agent whose prompt cannot be built (a bug before any model call)
    import_demo_salon(db)
    harness = production_harness(db, settings_for(fake_openai, fake_whatsapp), clock=Clock())
    agent = harness.router.agent
    assert agent is not None

    def broken_prompt(*_: Any) -> str:
        raise AttributeError("'NoneType' object has no attribute 'name'")

    agent._prompt_builder = broken_prompt  # type: ignore[attr-defined]
    customer = Customer(harness, fake_whatsapp)

    # When a customer writes
    customer.say("Хочу на маникюр")

    # Then the guided flow answered, once, and the failure was counted
    assert customer.titles() == GUIDED_MASTERS
    assert len(fake_whatsapp.sent) == 1
    assert fake_openai.requests == []
    assert errors == ["model"]


def test_a_database_error_in_the_model_path_is_still_retried(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, errors: list[str]
) -> None:
    # Given the model's turn meets a transient database error (a lock timeout)
    import_demo_salon(db)
    harness = production_harness(db, settings_for(fake_openai, fake_whatsapp), clock=Clock())
    agent = harness.router.agent
    assert agent is not None

    def timed_out(*_: Any) -> str:
        raise psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")

    agent._prompt_builder = timed_out  # type: ignore[attr-defined]

    # Then the message fails, to be retried, and nobody was answered
    with pytest.raises(psycopg.OperationalError):
        harness.say("Хочу на маникюр")
    assert fake_whatsapp.sent == [] and errors == []
    assert rows(db, "SELECT message_id FROM inbound_messages") == []


class FlakyDatabase:
    """The processor's connection: refused `failures` times (the database restarting)."""

    def __init__(self, conn: Connection, failures: int) -> None:
        self.conn = conn
        self.failures = failures

    def __call__(self) -> Connection:
        if self.failures:
            self.failures -= 1
            raise psycopg.OperationalError("connection refused")
        return self.conn


def test_a_transient_failure_returns_after_a_short_backoff_not_the_visibility_timeout(
    db: Connection,
    moto_url: str,
    processor_rig: Callable[..., ProcessorRig],
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
) -> None:
    # Given the template's queue as it is (360 s of visibility timeout), a database that
    # refuses the first two connections, and a backoff of 1 s doubling per receive
    real = template_queues(moto_url)
    visibility = TEMPLATE.resources["InboundQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility == 360
    import_demo_salon(db)
    harness = production_harness(db, settings_for(fake_openai, fake_whatsapp), clock=Clock())
    harness.processor._connection = FlakyDatabase(db, failures=2)  # type: ignore[attr-defined]
    backoff = VisibilityBackoff(base_s=1, max_s=visibility, client=real.clients.sqs)
    rig = processor_rig(harness.processor, backoff, on=real)
    fake_openai.add(Answer("Здравствуйте! На какое время?"))
    real.send(harness.body("Маникюр сегодня", wamid="wamid.flaky.1"), group=GROUP, dedup_id="1")

    # When the first receive fails
    first = rig.poller.poll_once()

    # Then the message is reported failed and is in flight, not visible
    assert (first.deleted, first.kept) == (0, 1)
    assert real.counts(real.inbound_url) == (0, 1)

    # and it comes back after its backoff (1 s, then 2 s), long before 360 s would pass
    second = rig.poll_until_received(timeout_s=15)
    assert (second.deleted, second.kept) == (0, 1)
    third = rig.poll_until_received(timeout_s=15)
    assert (third.deleted, third.kept) == (1, 0)
    assert rig.receive_counts == [[1], [2], [3]]
    assert [backoff.delay_s(n) for n in (1, 2)] == [1, 2]
    # and the third receive answered it, once
    assert len(fake_whatsapp.sent) == 1
    assert real.counts(real.inbound_url) == (0, 0)
    assert real.counts(real.dlq_url) == (0, 0)
