"""Budget alerts on a real PostgreSQL, SNS and DynamoDB in moto, and a local Slack fake:
one alert per threshold per day however often the schedule runs."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import Settings
from salonbot.cost.alerts import (
    Alert,
    AlertNotifier,
    AlertPolicy,
    DynamoAlertLedger,
    check_budgets,
    run_budget_alerts,
)
from salonbot.db.connection import Connection
from salonbot.errors import ConfigurationError
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.integration.moto_dynamodb import COST_TABLE, create_cost_table

pytestmark = pytest.mark.integration

# 09:00 in Moscow (UTC+3) on 2026-03-10.
MORNING = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)
POLICY = AlertPolicy(absolute_usd=Decimal(50), global_budget_usd=Decimal(50))


class Aws:
    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        self.sns = boto3.client("sns", region_name="eu-west-1")
        self.sqs = boto3.client("sqs", region_name="eu-west-1")
        create_cost_table(self.dynamodb)
        self.topic = self.sns.create_topic(Name="alerts")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        self.sns.subscribe(
            TopicArn=self.topic,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "false"},
        )

    def received(self) -> list[dict[str, Any]]:
        """Every SNS notification delivered to the subscribed queue so far."""
        found = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return found
            for m in messages:
                found.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws()


@pytest.fixture
def salon(db: Connection) -> Connection:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))  # Moscow, $5.00 a day
    db.execute(
        """INSERT INTO ai_conversations (id, salon_id, phone_number)
           VALUES ('conv_a', %(s)s, '+79001234567'), ('conv_b', %(s)s, '+79007654321')""",
        {"s": DEMO_SALON_ID},
    )
    db.commit()
    return db


def spend(conn: Connection, amount: str, at: dt.datetime, conv: str = "conv_a") -> None:
    conn.execute(
        """INSERT INTO ai_messages (conversation_id, salon_id, role, prompt_tokens,
                                    completion_tokens, cost, created_at)
           VALUES (%s, %s, 'assistant', 1000, 200, %s, %s)""",
        (conv, DEMO_SALON_ID, Decimal(amount), at),
    )
    conn.commit()


def check(
    conn: Connection, aws: Aws, now: dt.datetime, policy: AlertPolicy = POLICY
) -> list[Alert]:
    return check_budgets(
        conn,
        policy=policy,
        ledger=DynamoAlertLedger(COST_TABLE, aws.dynamodb),
        notifier=AlertNotifier(aws.topic, sns=aws.sns),
        now=now,
    )


def test_one_alert_per_threshold_per_day_across_many_runs(salon: Connection, aws: Aws) -> None:
    # Given $3.00 spent of $5.00 (60%): runs every 15 minutes send nothing
    spend(salon, "3.00", MORNING)
    for i in range(3):
        assert check(salon, aws, MORNING + dt.timedelta(minutes=15 * i)) == []
    # When spend passes 80%, then five runs send exactly one alert
    spend(salon, "1.10", MORNING + dt.timedelta(hours=1))
    for i in range(5):
        check(salon, aws, MORNING + dt.timedelta(hours=1, minutes=15 * i))
    first = aws.received()
    assert [m["Subject"] for m in first] == [
        "salonbot: Nail Studio Aurora reached 80% of budget on 2026-03-10"
    ]
    # When it passes 100%, five more runs send exactly one more
    spend(salon, "1.00", MORNING + dt.timedelta(hours=3), conv="conv_b")
    for i in range(5):
        check(salon, aws, MORNING + dt.timedelta(hours=3, minutes=15 * i))
    second = aws.received()
    assert len(second) == 1
    assert "100% of budget" in second[0]["Subject"]
    text = second[0]["Message"]
    assert "Salon: Nail Studio Aurora" in text
    assert "Spend: $5.1000 of $5.00 budget (102%)" in text
    # Top cost drivers, with masked phone numbers only
    assert "1. ***4567: $4.1000, 2,400 tokens, 2 messages" in text
    assert "2. ***4321: $1.0000" in text
    assert "+79001234567" not in text
    # And the next day in Moscow starts over
    next_day = MORNING + dt.timedelta(days=1)
    spend(salon, "4.50", next_day)
    check(salon, aws, next_day)
    check(salon, aws, next_day + dt.timedelta(minutes=15))
    third = aws.received()
    assert [m["Subject"] for m in third] == [
        "salonbot: Nail Studio Aurora reached 80% of budget on 2026-03-11"
    ]


def test_thresholds_crossed_together_give_one_message(salon: Connection, aws: Aws) -> None:
    spend(salon, "6.00", MORNING)
    sent = check(salon, aws, MORNING)
    assert [[t.key for t in a.crossed] for a in sent] == [["pct80", "pct100"]]
    assert len(aws.received()) == 1
    assert check(salon, aws, MORNING + dt.timedelta(minutes=15)) == []


def test_spend_counts_on_the_salon_local_day(salon: Connection, aws: Aws) -> None:
    # Given $4.50 spent at 23:30 Moscow time on the 10th (20:30 UTC)
    spend(salon, "4.50", dt.datetime(2026, 3, 10, 20, 30, tzinfo=dt.UTC))
    # When the check runs at 00:15 Moscow time on the 11th (21:15 UTC, still the 10th in UTC)
    sent = check(salon, aws, dt.datetime(2026, 3, 10, 21, 15, tzinfo=dt.UTC))
    # Then that spend belongs to yesterday: no salon alert today
    assert [a.spend.scope for a in sent] == []
    # While on the 10th itself it was over 80%
    sent = check(salon, aws, dt.datetime(2026, 3, 10, 20, 45, tzinfo=dt.UTC))
    assert [a.spend.day for a in sent] == [dt.date(2026, 3, 10)]


def test_global_spend_against_the_absolute_amount(salon: Connection, aws: Aws) -> None:
    # Given the guide's "daily cost > 50" as an absolute amount of $5 and a $100 global cap
    policy = AlertPolicy(absolute_usd=Decimal(5), global_budget_usd=Decimal(100))
    salon.execute("UPDATE salons SET daily_budget_usd = 1000")
    salon.commit()
    spend(salon, "5.50", MORNING)
    # When the checks run
    sent = check(salon, aws, MORNING, policy)
    check(salon, aws, MORNING + dt.timedelta(minutes=15), policy)
    # Then the salon and the whole service each alert once on the absolute amount
    assert sorted((a.spend.scope, a.crossed[-1].key) for a in sent) == [
        ("global", "usd5"),
        (f"salon:{DEMO_SALON_ID}", "usd5"),
    ]
    messages = aws.received()
    assert len(messages) == 2
    global_text = next(m["Message"] for m in messages if "AI costs" in m["Subject"])
    assert "Scope: all salons" in global_text
    assert "Nail Studio Aurora: $5.5000" in global_text


def test_a_failed_publish_is_retried_by_the_next_run(salon: Connection, aws: Aws) -> None:
    spend(salon, "4.50", MORNING)
    broken = AlertNotifier("arn:aws:sns:eu-west-1:123456789012:missing", sns=aws.sns)
    with pytest.raises(ClientError, match=r"NotFound"):
        check_budgets(
            salon,
            policy=POLICY,
            ledger=DynamoAlertLedger(COST_TABLE, aws.dynamodb),
            notifier=broken,
            now=MORNING,
        )
    assert len(check(salon, aws, MORNING + dt.timedelta(minutes=15))) == 1
    assert len(aws.received()) == 1


class SlackFake:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T/B/X"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack() -> Iterator[SlackFake]:
    fake = SlackFake()
    yield fake
    fake.close()


def test_slack_receives_the_same_text(
    salon: Connection, aws: Aws, slack: SlackFake, database_url: str
) -> None:
    # Given settings as the function gets them, with a Slack incoming webhook
    spend(salon, "4.50", MORNING)
    settings = Settings(
        database_url=database_url,
        cost_table=COST_TABLE,
        alert_topic_arn=aws.topic,
        slack_webhook_url=slack.url,
        cost_alert_usd=50,
    )
    # When the scheduled check runs twice
    sent = run_budget_alerts(settings, conn=salon, dynamodb=aws.dynamodb, sns=aws.sns, now=MORNING)
    run_budget_alerts(settings, conn=salon, dynamodb=aws.dynamodb, sns=aws.sns, now=MORNING)
    # Then Slack got the alert's text once, as SNS did
    assert len(sent) == 1
    assert slack.posts == [{"text": sent[0].text}]
    assert [m["Message"] for m in aws.received()] == [sent[0].text]


def test_a_slack_outage_does_not_repeat_the_alert(salon: Connection, aws: Aws) -> None:
    spend(salon, "4.50", MORNING)
    notifier = AlertNotifier(aws.topic, sns=aws.sns, slack_webhook_url="http://127.0.0.1:9/x")
    ledger = DynamoAlertLedger(COST_TABLE, aws.dynamodb)
    for minutes in (0, 15):
        check_budgets(
            salon,
            policy=POLICY,
            ledger=ledger,
            notifier=notifier,
            now=MORNING + dt.timedelta(minutes=minutes),
        )
    assert len(aws.received()) == 1


def test_alerts_need_the_cost_table_to_deduplicate(database_url: str) -> None:
    with pytest.raises(ConfigurationError):
        run_budget_alerts(Settings(database_url=database_url))
