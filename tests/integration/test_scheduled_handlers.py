"""The two scheduled Lambda handlers, invoked with the sample events in `events/` the way
Lambda invokes them, against a real PostgreSQL and moto."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import get_settings
from salonbot.db.connection import Connection, reset_connection
from salonbot.observability import metrics
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID, REPO_ROOT
from tests.integration.moto_dynamodb import COST_TABLE, create_cost_table

pytestmark = pytest.mark.integration


@dataclass
class FakeContext:
    function_name: str = "salonbot-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:salonbot-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_stream_name: str = "2026/11/26/[$LATEST]c6af9ac67b6111e69a4193e812345678"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_handler(name: str) -> ModuleType:
    path = REPO_ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO_ROOT / "events" / name).read_text())
    return data


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    get_settings.cache_clear()
    reset_connection()
    yield
    get_settings.cache_clear()
    reset_connection()
    metrics.clear_metrics()


def test_cleanup_handler_deletes_old_ai_data(
    db: Connection, lambda_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an idle conversation from 40 days ago and a fresh one
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.execute(
        """INSERT INTO ai_conversations (id, salon_id, phone_number, last_message_at)
           VALUES ('old', %(s)s, '+1', now() - interval '40 days'),
                  ('new', %(s)s, '+2', now() - interval '1 day')""",
        {"s": DEMO_SALON_ID},
    )
    db.commit()
    # When the scheduled event arrives
    result = load_handler("cleanup").lambda_handler(event("scheduled-cleanup.json"), FakeContext())
    # Then the old conversation is gone, and the counts went out as EMF metrics
    assert result["conversations_deleted"] == 1 and result["complete"]
    assert [r["id"] for r in db.execute("SELECT id FROM ai_conversations")] == ["new"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("ConversationsDeleted") == [1.0] for m in emf)


def test_cleanup_handler_stops_near_its_timeout(db: Connection, lambda_env: None) -> None:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    result = load_handler("cleanup").lambda_handler(
        event("scheduled-cleanup.json"), FakeContext(remaining_ms=5_000)
    )
    assert result["complete"] is False and result["batches"] == 0


def test_budget_alert_handler_publishes_once(
    db: Connection, lambda_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        # Given a salon over 80% of its budget today and the stack's table and topic
        dynamodb = boto3.client("dynamodb")
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        create_cost_table(dynamodb)
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        monkeypatch.setenv("COST_TABLE", COST_TABLE)
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
        get_settings.cache_clear()
        import_salon(db, load_salon_file(DEMO_SALON_FILE))
        db.execute(
            "INSERT INTO ai_conversations (id, salon_id, phone_number) VALUES ('c', %s, '+1')",
            (DEMO_SALON_ID,),
        )
        db.execute(
            """INSERT INTO ai_messages (conversation_id, salon_id, role, cost, created_at)
               VALUES ('c', %s, 'assistant', %s, %s)""",
            (DEMO_SALON_ID, Decimal("4.20"), dt.datetime.now(dt.UTC)),
        )
        db.commit()
        handler = load_handler("budget_alert")
        # When the schedule fires three times
        results = [
            handler.lambda_handler(event("scheduled-budget-alert.json"), FakeContext())
            for _ in range(3)
        ]
        # Then one alert went out, on the first run
        assert [len(r["alerts"]) for r in results] == [1, 0, 0]
        assert results[0]["alerts"][0]["thresholds"] == ["pct80"]
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        assert len(received) == 1
