"""The local stack's AWS side against moto in server mode: resources built from a
template's own properties, and the SQS event source mapping's batch semantics."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from salonbot_dev.local.aws_resources import AwsClients, ResourceBuilder
from salonbot_dev.local.functions import SqsSource
from salonbot_dev.local.poller import QueuePoller
from salonbot_dev.local.template import Resolver, Template, load_yaml

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: test}
  StaffSalonId: {Type: String, Default: salon-a}
Resources:
  DeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      MessageRetentionPeriod: 1209600
  InboundQueue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: false
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn
        maxReceiveCount: 2
  CostTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: day, AttributeType: S}
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: by-day
          KeySchema: [{AttributeName: day, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
  NamedTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "salonbot-${Stage}-idempotency"
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
  AlertTopic:
    Type: AWS::SNS::Topic
  StaffTopic:
    Type: AWS::SNS::Topic
  StaffInbox:
    Type: AWS::SQS::Queue
  StaffSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref StaffTopic
      Protocol: sqs
      Endpoint: !GetAtt StaffInbox.Arn
      FilterPolicyScope: MessageAttributes
      FilterPolicy:
        salon_id: [!Ref StaffSalonId]
  AppSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 32}
  JsonSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"username": "salonbot"}'
        GenerateStringKey: password
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmActions: [!Ref AlertTopic]}
"""


@pytest.fixture
def built(moto_url: str) -> tuple[Resolver, AwsClients]:
    # A stack name per test keeps tests' resources apart on the shared server.
    stack = f"t{time.monotonic_ns()}"
    resolver = Resolver(Template(load_yaml(TEMPLATE)), region=REGION, stack_name=stack)
    resolver.parameter_overrides["Stage"] = stack
    clients = AwsClients.for_endpoint(moto_url, REGION)
    ResourceBuilder(resolver, clients, secret_values={"AppSecret": "local-app-secret"}).create_all()
    return resolver, clients


def test_queues_follow_the_template(built: tuple[Resolver, AwsClients]) -> None:
    resolver, clients = built
    # Then the inbound queue is FIFO, with its visibility timeout and a redrive to the DLQ
    url = resolver.ref("InboundQueue")
    attributes = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert url.endswith(".fifo")
    assert attributes["FifoQueue"] == "true"
    assert attributes["VisibilityTimeout"] == "1"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == resolver.get_att("DeadLetterQueue", "Arn")
    assert int(redrive["maxReceiveCount"]) == 2
    dlq = clients.sqs.get_queue_attributes(
        QueueUrl=resolver.ref("DeadLetterQueue"), AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]
    assert dlq["MessageRetentionPeriod"] == "1209600"


def test_tables_topic_and_secrets_follow_the_template(
    built: tuple[Resolver, AwsClients],
) -> None:
    resolver, clients = built
    cost = clients.dynamodb.describe_table(TableName=resolver.ref("CostTable"))["Table"]
    assert cost["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert [i["IndexName"] for i in cost["GlobalSecondaryIndexes"]] == ["by-day"]
    ttl = clients.dynamodb.describe_time_to_live(TableName=resolver.ref("CostTable"))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert resolver.ref("NamedTable") == f"salonbot-{resolver.stack_name}-idempotency"
    clients.dynamodb.describe_table(TableName=resolver.ref("NamedTable"))
    topic = resolver.ref("AlertTopic")
    assert topic in [t["TopicArn"] for t in clients.sns.list_topics()["Topics"]]
    app_secret = clients.secretsmanager.get_secret_value(SecretId=resolver.ref("AppSecret"))
    assert app_secret["SecretString"] == "local-app-secret"
    generated = json.loads(
        clients.secretsmanager.get_secret_value(SecretId=resolver.ref("JsonSecret"))["SecretString"]
    )
    assert generated["username"] == "salonbot" and len(generated["password"]) > 16
    # A resource type the stack does not create still resolves to a name
    assert resolver.resolve({"Ref": "Alarm"}) == f"{resolver.stack_name}-Alarm"


def test_a_subscription_gets_only_what_its_filter_policy_lets_through(
    built: tuple[Resolver, AwsClients],
) -> None:
    resolver, clients = built
    # Given the staff topic with salon A's subscription, filtered on `salon_id`
    (subscription,) = clients.sns.list_subscriptions_by_topic(TopicArn=resolver.ref("StaffTopic"))[
        "Subscriptions"
    ]
    assert subscription["SubscriptionArn"] == resolver.ref("StaffSubscription")
    attributes = clients.sns.get_subscription_attributes(
        SubscriptionArn=subscription["SubscriptionArn"]
    )["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"salon_id": ["salon-a"]}

    # When notifications for salon B, for no salon and for salon A are published
    for salon in ("salon-b", None, "salon-a"):
        clients.sns.publish(
            TopicArn=resolver.ref("StaffTopic"),
            Message=f"for {salon}",
            MessageAttributes=(
                {"salon_id": {"DataType": "String", "StringValue": salon}} if salon else {}
            ),
        )

    # Then salon A's inbox holds salon A's notification only
    received = clients.sqs.receive_message(
        QueueUrl=resolver.ref("StaffInbox"), MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", [])
    assert [json.loads(m["Body"])["Message"] for m in received] == ["for salon-a"]


def _send(clients: AwsClients, url: str, group: str, body: str) -> None:
    clients.sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
    )


class RecordingHandler:
    """A test function: records each batch and fails the bodies it is told to."""

    def __init__(self, fail: set[str] | None = None, raise_error: bool = False) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail = fail or set()
        self.raise_error = raise_error

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.batches.append(event["Records"])
        if self.raise_error:
            raise RuntimeError("boom")
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]}
                for r in event["Records"]
                if r["body"] in self.fail
            ]
        }


def _poller(
    resolver: Resolver, clients: AwsClients, handler: RecordingHandler, *, report: bool = True
) -> QueuePoller:
    source = SqsSource(
        queue_arn=resolver.get_att("InboundQueue", "Arn"),
        batch_size=10,
        report_batch_item_failures=report,
    )
    return QueuePoller(clients.sqs, resolver.ref("InboundQueue"), source, handler, region=REGION)


def _visible_and_in_flight(clients: AwsClients, url: str) -> tuple[int, int]:
    attributes = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_a_batch_arrives_as_lambda_records(built: tuple[Resolver, AwsClients]) -> None:
    resolver, clients = built
    url = resolver.ref("InboundQueue")
    # Given two messages of one customer and one of another
    for group, body in [("a", "a1"), ("a", "a2"), ("b", "b1")]:
        _send(clients, url, group, body)
    handler = RecordingHandler()
    # When the poller runs once
    outcome = _poller(resolver, clients, handler).poll_once()
    # Then one batch holds them in group order, shaped as Lambda's SQS event
    (batch,) = handler.batches
    assert [r["body"] for r in batch if r["attributes"]["MessageGroupId"] == "a"] == ["a1", "a2"]
    record = batch[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == resolver.get_att("InboundQueue", "Arn")
    assert record["awsRegion"] == REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "MessageDeduplicationId", "SequenceNumber"} <= set(
        record["attributes"]
    )
    assert record["receiptHandle"] and record["md5OfBody"]
    # And the whole batch was deleted
    assert (outcome.deleted, outcome.kept) == (3, 0)
    assert _visible_and_in_flight(clients, url) == (0, 0)


def test_partial_failures_stay_invisible_then_return_then_go_to_the_dlq(
    built: tuple[Resolver, AwsClients],
) -> None:
    resolver, clients = built
    url = resolver.ref("InboundQueue")
    _send(clients, url, "a", "ok")
    _send(clients, url, "b", "bad")
    handler = RecordingHandler(fail={"bad"})
    poller = _poller(resolver, clients, handler)
    # When one message of the batch is reported as failed
    first = poller.poll_once()
    # Then only it is kept, in flight (invisible) until the visibility timeout
    assert (first.deleted, first.kept) == (1, 1)
    assert _visible_and_in_flight(clients, url) == (0, 1)
    # After the visibility timeout (1 s) it is received again, with its receive count
    second = poller.poll_once()
    while second.received == 0:
        second = poller.poll_once()
    assert [r["body"] for r in handler.batches[-1]] == ["bad"]
    assert handler.batches[-1][0]["attributes"]["ApproximateReceiveCount"] == "2"
    # And after maxReceiveCount (2) receives it is moved to the dead-letter queue
    while _visible_and_in_flight(clients, url) != (0, 0):
        poller.poll_once()
    dlq = clients.sqs.receive_message(QueueUrl=resolver.ref("DeadLetterQueue"))
    assert [m["Body"] for m in dlq["Messages"]] == ["bad"]
    assert len(handler.batches) == 2


def test_an_error_returns_the_whole_batch(built: tuple[Resolver, AwsClients]) -> None:
    resolver, clients = built
    url = resolver.ref("InboundQueue")
    _send(clients, url, "a", "x")
    _send(clients, url, "b", "y")
    outcome = _poller(resolver, clients, RecordingHandler(raise_error=True)).poll_once()
    assert (outcome.deleted, outcome.kept) == (0, 2)
    assert _visible_and_in_flight(clients, url) == (0, 2)


def test_failures_are_ignored_without_report_batch_item_failures(
    built: tuple[Resolver, AwsClients],
) -> None:
    resolver, clients = built
    url = resolver.ref("InboundQueue")
    _send(clients, url, "a", "bad")
    # Without ReportBatchItemFailures on the event source, Lambda ignores the response
    outcome = _poller(resolver, clients, RecordingHandler(fail={"bad"}), report=False).poll_once()
    assert (outcome.deleted, outcome.kept) == (1, 0)


def test_an_unknown_item_identifier_fails_the_whole_batch(
    built: tuple[Resolver, AwsClients],
) -> None:
    resolver, clients = built
    url = resolver.ref("InboundQueue")
    _send(clients, url, "a", "x")
    _send(clients, url, "b", "y")

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}

    poller = _poller(resolver, clients, RecordingHandler())
    poller.invoke = handler
    outcome = poller.poll_once()
    assert (outcome.deleted, outcome.kept) == (0, 2)


def test_a_message_group_waits_while_its_message_is_in_flight(
    built: tuple[Resolver, AwsClients],
) -> None:
    resolver, clients = built
    url = resolver.ref("InboundQueue")
    # Given a failed first message of customer a, then a second message of a, and one of b
    _send(clients, url, "a", "a1")
    poller = _poller(resolver, clients, RecordingHandler(fail={"a1"}))
    poller.poll_once()
    _send(clients, url, "a", "a2")
    _send(clients, url, "b", "b1")
    handler = RecordingHandler()
    poller.invoke = handler
    # When the poller runs while a1 is in flight
    poller.poll_once()
    # Then b is served and a2 waits behind a1 (per-customer order)
    assert [r["body"] for r in handler.batches[0]] == ["b1"]
