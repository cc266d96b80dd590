"""template.yaml as deployed: functions wired to their events and resources, the queue and
its DLQ, alarms on the metrics the code emits, schedules, log retention, encryption and
least-privilege policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from salonbot.config import Settings
from salonbot.inbound.dedupe import DEFAULT_LEASE_S
from salonbot.observability import MetricName
from salonbot_dev.local.template import Template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(ROOT / "template.yaml")


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return template.resources_of_type(kind)


def props(template: Template, logical_id: str) -> dict[str, Any]:
    return dict(template.resources[logical_id].get("Properties") or {})


FUNCTIONS = {
    "WebhookFunction": "functions/webhook/",
    "ApiFunction": "functions/api/",
    "ProcessorFunction": "functions/processor/",
    "CleanupFunction": "functions/cleanup/",
    "BudgetAlertFunction": "functions/budget_alert/",
    "AdminFunction": "functions/admin/",
}


def test_every_function_has_its_folder_and_handler(template: Template) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    for logical_id, code_uri in FUNCTIONS.items():
        properties = props(template, logical_id)
        assert properties["CodeUri"] == code_uri
        assert properties["Handler"] == "app.lambda_handler"
        assert (ROOT / code_uri / "app.py").is_file()


def test_runtime_architecture_and_layer_build(template: Template) -> None:
    globals_ = template.body["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Tracing"] == "Active"
    assert globals_["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "salonbot"
    layer = template.resources["CommonLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["ContentUri"] == "layers/common/"
    assert not (ROOT / "layers" / "common" / "python").exists()


def test_environment_names_are_settings(template: Template) -> None:
    known = {name.upper() for name in Settings.model_fields}
    for logical_id in FUNCTIONS:
        variables = props(template, logical_id)["Environment"]["Variables"]
        unknown = {name for name in variables if name not in known}
        assert unknown == set(), f"{logical_id} sets variables no setting reads: {unknown}"


def test_no_secret_value_in_parameters_or_environment(template: Template) -> None:
    for logical_id in FUNCTIONS:
        variables = props(template, logical_id)["Environment"]["Variables"]
        for name in variables:
            words = set(name.split("_"))
            if words & {"SECRET", "TOKEN", "KEY", "PASSWORD"}:
                assert name.endswith("_ARN"), f"{logical_id}.{name} must point at a secret"
    for name, spec in template.body["Parameters"].items():
        if "Secret" in name or name.endswith("Token"):
            assert name.endswith("SecretArn"), name
            assert spec.get("Default", "") == ""


def test_routes_and_their_authorizers(template: Template) -> None:
    routes = {}
    for logical_id in ("WebhookFunction", "ApiFunction"):
        for event in props(template, logical_id)["Events"].values():
            assert event["Type"] == "HttpApi"
            p = event["Properties"]
            auth = (p.get("Auth") or {}).get("Authorizer")
            routes[(p["Method"], p["Path"])] = (logical_id, auth)
    assert routes == {
        ("GET", "/webhook"): ("WebhookFunction", "NONE"),
        ("POST", "/webhook"): ("WebhookFunction", "NONE"),
        ("GET", "/api/v1/ai/health"): ("ApiFunction", "NONE"),
        ("POST", "/api/v1/ai/process-message"): ("ApiFunction", None),
        ("GET", "/api/v1/ai/stats"): ("ApiFunction", None),
    }
    api = props(template, "HttpApi")
    assert api["Auth"]["DefaultAuthorizer"] == "BackendJwt"
    jwt = api["Auth"]["Authorizers"]["BackendJwt"]["JwtConfiguration"]
    assert jwt == {"issuer": {"Ref": "JwtIssuer"}, "audience": [{"Ref": "JwtAudience"}]}
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRatePerSecond"}
    assert template.body["Parameters"]["ApiThrottleRatePerSecond"]["Default"] == pytest.approx(
        100 / 60, abs=0.01
    )


def test_fifo_queue_redrives_to_a_dlq_and_outlives_the_processor(template: Template) -> None:
    queue = props(template, "InboundQueue")
    dlq = props(template, "DeadLetterQueue")
    processor = props(template, "ProcessorFunction")
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is False
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert queue["VisibilityTimeout"] >= 6 * processor["Timeout"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    (event,) = processor["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["InboundQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MaximumConcurrency" in event["Properties"]["ScalingConfig"]


def test_tables_are_on_demand_with_ttl(template: Template) -> None:
    expected = {"IdempotencyTable": ("id", "expiration"), "CostTable": ("pk", "expires_at")}
    expected["RateLimitTable"] = ("pk", "expires_at")
    tables = resources(template, "AWS::DynamoDB::Table")
    assert set(tables) == set(expected)
    for logical_id, (key, ttl) in expected.items():
        p = props(template, logical_id)
        assert p["BillingMode"] == "PAY_PER_REQUEST"
        assert p["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
        assert p["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        assert p["SSESpecification"] == {"SSEEnabled": True}


def test_schedules(template: Template) -> None:
    cleanup = props(template, "CleanupFunction")["Events"]["Nightly"]["Properties"]
    budget = props(template, "BudgetAlertFunction")["Events"]["Every15Minutes"]["Properties"]
    assert cleanup["Schedule"] == "cron(0 2 * * ? *)"
    assert budget["Schedule"] == "rate(15 minutes)"


def _alarm_metric_names(alarm: dict[str, Any]) -> set[str]:
    names = {alarm["MetricName"]} if "MetricName" in alarm else set()
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            names.add(query["MetricStat"]["Metric"]["MetricName"])
    return names


def test_alarms_watch_what_the_code_emits_and_notify_the_topic(template: Template) -> None:
    alarms = {lid: props(template, lid) for lid in resources(template, "AWS::CloudWatch::Alarm")}
    by_metric = {name: lid for lid, alarm in alarms.items() for name in _alarm_metric_names(alarm)}
    emitted = {v for k, v in vars(MetricName).items() if k.isupper()}
    for metric in (
        MetricName.ERRORS,
        MetricName.MESSAGES_RECEIVED,
        MetricName.RESPONSE_TIME_MS,
        MetricName.MODEL_FAILURES,
        MetricName.SPEND_TODAY_USD,
    ):
        assert metric in emitted and metric in by_metric, metric
    assert {"ApproximateNumberOfMessagesVisible", "Throttles", "5xx"} <= set(by_metric)
    dlq_alarm = alarms[by_metric["ApproximateNumberOfMessagesVisible"]]
    assert dlq_alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}
    assert dlq_alarm["Threshold"] == 0
    assert alarms[by_metric["ResponseTimeMs"]]["ExtendedStatistic"] == "p95"
    assert alarms[by_metric["ResponseTimeMs"]]["Threshold"] == 3000
    error_rate = alarms["ErrorRateAlarm"]
    assert error_rate["Threshold"] == 5
    assert any(
        "100 * FILL(errors, 0) / FILL(messages, 0)" in q.get("Expression", "")
        for q in error_rate["Metrics"]
    )
    for lid, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}], lid
    # every metric on the dashboard is one the code emits or an AWS one
    body = props(template, "SalonbotDashboard")["DashboardBody"]["Fn::Sub"]
    for metric in (MetricName.COST_USD, MetricName.TOKENS_USED, MetricName.BOOKINGS_CREATED):
        assert f'"{metric}"' in body
    assert MetricName.CONVERSATIONS_CONVERTED in body
    # every function has an error alarm of its own
    for function in FUNCTIONS:
        alarm = alarms[f"{function}ErrorsAlarm"]
        assert alarm["Namespace"] == "AWS/Lambda" and alarm["Threshold"] == 0
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]


def test_log_groups_have_retention_and_every_function_uses_one(template: Template) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    for logical_id in groups:
        assert props(template, logical_id)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    for logical_id in FUNCTIONS:
        group = props(template, logical_id)["LoggingConfig"]["LogGroup"]["Ref"]
        assert group in groups


def test_encryption_at_rest(template: Template) -> None:
    for logical_id in resources(template, "AWS::SQS::Queue"):
        assert props(template, logical_id)["SqsManagedSseEnabled"] is True
    for logical_id in resources(template, "AWS::SNS::Topic"):
        assert props(template, logical_id)["KmsMasterKeyId"] == {"Ref": "TopicKey"}


def _statements(policies: list[Any]) -> list[dict[str, Any]]:
    found = []
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


def test_policies_name_their_resources(template: Template) -> None:
    for logical_id in FUNCTIONS:
        policies = props(template, logical_id).get("Policies", [])
        for policy in policies:
            assert isinstance(policy, dict), f"{logical_id}: managed policy {policy!r}"
        for statement in _statements(policies):
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert all("*" not in action for action in actions), (logical_id, actions)
            assert statement["Resource"] != "*", (logical_id, statement)
    webhook = props(template, "WebhookFunction")["Policies"]
    # the webhook reaches the queue and its dedupe table, nothing else of the stack's data
    names = {next(iter(p)) for p in webhook}
    assert names == {"SQSSendMessagePolicy", "Statement"}
    assert not any("Vpc" in key for key in props(template, "WebhookFunction"))


def test_database_functions_join_the_vpc_when_given(template: Template) -> None:
    for logical_id in (
        "ApiFunction",
        "ProcessorFunction",
        "CleanupFunction",
        "BudgetAlertFunction",
    ):
        vpc = props(template, logical_id)["VpcConfig"]["Fn::If"]
        assert vpc[0] == "InVpc"
    for endpoint in ("SqsEndpoint", "SecretsManagerEndpoint", "DynamoDbEndpoint", "S3Endpoint"):
        assert template.resources[endpoint]["Condition"] == "WithVpcEndpoints"
    # the endpoints admit the functions' own security group, whatever the VPC's range
    ingress = props(template, "EndpointSecurityGroup")["SecurityGroupIngress"][0]
    assert ingress["SourceSecurityGroupId"] == {"Fn::Select": [0, {"Ref": "SecurityGroupIds"}]}


def test_the_webhook_has_throttling_of_its_own(template: Template) -> None:
    routes = props(template, "HttpApi")["RouteSettings"]
    assert routes["POST /webhook"]["ThrottlingRateLimit"] == {"Ref": "WebhookThrottleRatePerSecond"}
    assert template.body["Parameters"]["WebhookThrottleRatePerSecond"]["Default"] >= 100


def test_functions_update_after_the_migrations(template: Template) -> None:
    for logical_id in (
        "ApiFunction",
        "ProcessorFunction",
        "CleanupFunction",
        "BudgetAlertFunction",
    ):
        variables = props(template, logical_id)["Environment"]["Variables"]
        assert variables["SCHEMA_REVISION"] == {
            "Fn::If": ["HasDatabaseSecret", {"Ref": "DatabaseMigrations"}, ""]
        }
    migrations = props(template, "DatabaseMigrations")
    assert migrations["ServiceTimeout"] <= 3600
    assert props(template, "AdminFunction")["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


def test_every_deploy_with_a_database_runs_the_migrations(template: Template) -> None:
    migrations = template.resources["DatabaseMigrations"]
    assert migrations["Type"] == "Custom::DatabaseMigrations"
    assert migrations["Condition"] == "HasDatabaseSecret"
    assert migrations["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["AdminFunction", "Arn"]}
    # a new layer version (new code or migrations) makes CloudFormation send an Update
    assert migrations["Properties"]["LayerVersion"] == {"Ref": "CommonLayer"}


def test_the_webhook_ends_before_its_dedupe_lease_lapses(template: Template) -> None:
    # A claim is only taken over after its lease: a request still running must hold it.
    timeout = props(template, "WebhookFunction")["Timeout"]
    assert isinstance(timeout, int | float)
    assert timeout < DEFAULT_LEASE_S
