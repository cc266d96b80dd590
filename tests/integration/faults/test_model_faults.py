"""Model faults (429, 500, connection reset, read timeout, garbage JSON in tool
arguments, an endless tool loop): the turn ends well within the function's timeout,
every spend reservation is settled (released, or reconciled to what was really spent),
and the customer gets the guided flow's answer instead of silence or an apology."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.config import Settings
from salonbot.cost.guard import DynamoCostGuard
from salonbot.db.connection import Connection
from salonbot.processing.pipeline import REPLIED
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.conftest import REPO_ROOT
from tests.fakes.openai_server import Answer, Failure, FakeOpenAI, Slow, ToolCall
from tests.integration.faults.conftest import TEMPLATE
from tests.integration.moto_dynamodb import COST_TABLE, create_cost_table
from tests.integration.processor.guided_harness import Customer, production_harness
from tests.integration.processor.harness import (
    Clock,
    import_demo_salon,
    rows,
    settings_for,
)

pytestmark = pytest.mark.integration

# What the guided flow answers "Хочу на маникюр" with: the masters who do manicures.
GUIDED_MASTERS = ["Любой мастер", "Анна", "Мария"]
# Far under ProcessorFunction's timeout; the scripted faults take about a second.
TURN_BOUND_S = 5.0


class ResettingServer:
    """Accepts each connection, reads the request, and resets it (RST, no response)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_cost_table(client)
        yield client


def _reservations(dynamodb: Any) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=COST_TABLE)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("resv#")]


def _garbage_arguments() -> Answer:
    return Answer(tool_calls=[ToolCall("book", '{"service": "manicure", "start": ')])


def _endless_tools() -> Answer:
    return Answer(tool_calls=[ToolCall("slots", {"service": "manicure"})])


FAULTS: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "429": ([Failure(429, headers={"retry-after-ms": "5"})] * 3, {}),
    "500": ([Failure(500), Failure(502), Failure(503)], {}),
    "connection_reset": ([], {}),
    "read_timeout": ([Slow(2.0, Answer("too late"))] * 3, {"openai_timeout_s": 0.3}),
    # A model that never produces valid arguments, nor a reply once tools are forbidden
    "garbage_tool_arguments": ([_garbage_arguments() for _ in range(4)], {}),
    # A model that keeps calling tools, even on the last call where they are forbidden
    "endless_tool_loop": ([_endless_tools() for _ in range(10)], {}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_model_fault_is_bounded_settles_its_spend_and_the_guided_flow_answers(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    dynamodb: Any,
    fault: str,
) -> None:
    # Given a model with this fault, behind the cost guard
    salon = import_demo_salon(db)
    steps, overrides = FAULTS[fault]
    resetting = ResettingServer() if fault == "connection_reset" else None
    settings = settings_for(fake_openai, fake_whatsapp, **overrides)
    if resetting is not None:
        settings = settings.model_copy(update={"openai_base_url": resetting.url})
    guard = DynamoCostGuard(COST_TABLE, global_daily_budget_usd=Decimal(50), client=dynamodb)
    harness = production_harness(db, settings, clock=Clock(), guard=guard)
    fake_openai.add(*steps)
    customer = Customer(harness, fake_whatsapp)

    # When a customer writes
    started = time.monotonic()
    try:
        customer.say("Хочу на маникюр")
    finally:
        if resetting is not None:
            resetting.close()
    elapsed = time.monotonic() - started

    # Then the turn ended far inside the function's timeout and the turn's deadline
    processor_timeout = TEMPLATE.function_properties("ProcessorFunction")["Timeout"]
    assert elapsed < TURN_BOUND_S < processor_timeout
    assert elapsed < settings.assistant_deadline_s
    # and the model was asked a bounded number of times (retries, or the call limit)
    calls = resetting.connections if resetting is not None else len(fake_openai.requests)
    if fault in ("garbage_tool_arguments", "endless_tool_loop"):
        assert calls == settings.assistant_max_model_calls
    else:
        assert calls == settings.openai_max_retries + 1
    if fault == "garbage_tool_arguments":
        results = [r.tool_result() for r in fake_openai.requests[1:]]
        assert all(r["error"] == "invalid_arguments" for r in results)
    # and every reservation was settled: released when the call failed, reconciled to
    # the real cost when it answered; the salon's counter holds exactly what was spent
    reservations = _reservations(dynamodb)
    assert reservations, "the model calls were not reserved"
    assert all(r["state"]["S"] in ("released", "reconciled") for r in reservations)
    stored = rows(db, "SELECT coalesce(sum(cost), 0) AS cost FROM ai_messages")
    assert guard.spent_today(str(salon.id), salon.timezone) == stored[0]["cost"]
    if fault in ("garbage_tool_arguments", "endless_tool_loop"):
        # the calls that answered were paid for, and the reply's row says so
        assert stored[0]["cost"] > 0
    else:
        assert guard.spent_today(str(salon.id), salon.timezone) == 0
        assert all(r["state"]["S"] == "released" for r in reservations)
    # and the customer got the guided flow's next step, once
    assert customer.titles() == GUIDED_MASTERS
    assert len(fake_whatsapp.sent) == 1
    (ledger,) = rows(db, "SELECT reply_status FROM inbound_messages")
    assert ledger["reply_status"] == "sent"


def test_the_turn_deadline_bounds_a_slow_model_whatever_the_retries(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, dynamodb: Any
) -> None:
    # Given a model slower than its per-call timeout, many retries allowed, and a turn
    # deadline of 1 s (the production value is under the function's timeout, below)
    salon = import_demo_salon(db)
    settings = settings_for(
        fake_openai,
        fake_whatsapp,
        openai_timeout_s=0.4,
        openai_max_retries=10,
        assistant_deadline_s=1.0,
    )
    guard = DynamoCostGuard(COST_TABLE, global_daily_budget_usd=None, client=dynamodb)
    harness = production_harness(db, settings, clock=Clock(), guard=guard)
    fake_openai.add(*[Slow(2.0, Answer("too late"))] * 10)
    customer = Customer(harness, fake_whatsapp)

    started = time.monotonic()
    assert harness.process(harness.body("Хочу на маникюр")) == REPLIED
    elapsed = time.monotonic() - started
    customer._collect()

    assert 0.8 < elapsed < 2.0
    assert len(fake_openai.requests) <= 3
    assert guard.spent_today(str(salon.id), salon.timezone) == 0
    assert customer.titles() == GUIDED_MASTERS
    defaults = Settings()
    processor_timeout = TEMPLATE.function_properties("ProcessorFunction")["Timeout"]
    assert defaults.assistant_deadline_s < processor_timeout
    assert (REPO_ROOT / "template.yaml").is_file()
