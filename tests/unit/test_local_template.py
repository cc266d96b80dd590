"""The template reader: short-form tags, intrinsic functions, conditions, SAM Globals and
the functions' event sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from salonbot_dev.local.functions import HttpRoute, read_functions
from salonbot_dev.local.template import Resolver, Template, TemplateError, load_yaml

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  AlertEmail: {Type: String, Default: ""}
  Zones: {Type: CommaDelimitedList, Default: "a, b"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  HasEmail: !Not [!Equals [!Ref AlertEmail, ""]]
Mappings:
  Sizes: {dev: {Memory: 256}}
Globals:
  Function:
    Runtime: python3.13
    Timeout: 10
    Environment:
      Variables:
        LOG_LEVEL: INFO
        POWERTOOLS_SERVICE_NAME: salonbot
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  Subscription:
    Type: AWS::SNS::Subscription
    Condition: HasEmail
    Properties: {Endpoint: !Ref AlertEmail}
  WebhookFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/webhook/
      Handler: app.lambda_handler
      MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
      Environment:
        Variables:
          LOG_LEVEL: DEBUG
          QUEUE_URL: !Ref Queue
          QUEUE_ARN: !GetAtt Queue.Arn
          NAME: !Sub "${AWS::StackName}-${Stage}-${Queue.QueueName}"
          LITERAL: !Sub "${!NotAVariable}"
          MODE: !If [IsProd, strict, relaxed]
          JOINED: !Join ["/", [!Select [1, !Ref Zones], !Ref AWS::Region]]
          TRACING: true
      Events:
        Post: {Type: HttpApi, Properties: {Path: /webhook, Method: post}}
        Verify: {Type: HttpApi, Properties: {Path: /webhook, Method: GET}}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker
      Handler: app.handler
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
        Nightly:
          Type: Schedule
          Properties: {Schedule: "cron(0 2 * * ? *)", Enabled: false}
        Often:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(15 minutes)
            ScheduleExpressionTimezone: Europe/Moscow
            Input: '{"dry_run": true}'
"""


@pytest.fixture
def resolver() -> Resolver:
    resolver = Resolver(Template(load_yaml(TEMPLATE)), region="eu-west-1", stack_name="s")
    resolver.refs["Queue"] = "http://sqs/q.fifo"
    resolver.attributes[("Queue", "Arn")] = "arn:aws:sqs:eu-west-1:123456789012:q.fifo"
    resolver.attributes[("Queue", "QueueName")] = "q.fifo"
    return resolver


def test_short_form_tags_become_intrinsic_functions() -> None:
    # Given tags in scalar and sequence form
    body = load_yaml("A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub [x, {}]\nD: !Condition C1")
    # Then each is the long form CloudFormation documents
    assert body == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["R", "Arn"]},
        "C": {"Fn::Sub": ["x", {}]},
        "D": {"Condition": "C1"},
    }


def test_function_environment_is_globals_overridden_and_resolved(resolver: Resolver) -> None:
    # When the webhook function is read
    (webhook, _) = read_functions(resolver, Path("/repo"))
    # Then globals are merged under its own variables and every intrinsic is resolved
    assert webhook.environment == {
        "LOG_LEVEL": "DEBUG",
        "POWERTOOLS_SERVICE_NAME": "salonbot",
        "QUEUE_URL": "http://sqs/q.fifo",
        "QUEUE_ARN": "arn:aws:sqs:eu-west-1:123456789012:q.fifo",
        "NAME": "s-dev-q.fifo",
        "LITERAL": "${NotAVariable}",
        "MODE": "relaxed",
        "JOINED": "b/eu-west-1",
        "TRACING": "true",
    }
    assert webhook.memory_mb == 256
    assert webhook.timeout_s == 10
    assert webhook.code_dir == Path("/repo/functions/webhook")
    assert webhook.routes == [HttpRoute("POST", "/webhook"), HttpRoute("GET", "/webhook")]


def test_event_sources_are_read_with_their_settings(resolver: Resolver) -> None:
    # When the worker function is read
    (_, worker) = read_functions(resolver, Path("/repo"))
    # Then its queue, batch settings and schedules come from the template
    (source,) = worker.sqs_sources
    assert source.queue_arn.endswith(":q.fifo")
    assert (source.batch_size, source.report_batch_item_failures) == (5, True)
    nightly, often = worker.schedules
    assert (nightly.expression, nightly.enabled) == ("cron(0 2 * * ? *)", False)
    assert (often.timezone, often.input, often.enabled) == (
        "Europe/Moscow",
        {"dry_run": True},
        True,
    )
    assert worker.short_name == "worker"


def test_parameter_overrides_change_conditions() -> None:
    # Given a prod stage and an alert email
    resolver = Resolver(
        Template(load_yaml(TEMPLATE)), parameter_overrides={"Stage": "prod", "AlertEmail": "a@b"}
    )
    # Then conditions follow
    assert resolver.condition("IsProd") is True
    assert resolver.included(resolver.template.resources["Subscription"]) is True
    assert (
        Resolver(Template(load_yaml(TEMPLATE))).included(
            resolver.template.resources["Subscription"]
        )
        is False
    )


def test_no_value_removes_the_key(resolver: Resolver) -> None:
    value = {"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}]}
    assert resolver.resolve(value) == {"B": [1]}


def test_unknown_names_are_errors_not_guesses(resolver: Resolver) -> None:
    with pytest.raises(TemplateError, match="Nope"):
        resolver.resolve({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="ImportValue"):
        resolver.resolve({"Fn::ImportValue": "x"})
