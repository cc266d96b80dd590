"""template.yaml as deployed: functions wired to their events and resources, the queue and
its DLQ, alarms on the metrics the code emits, schedules, log retention, encryption,
least-privilege policies, and gradual deploys of the customer-facing functions (alias,
CodeDeploy, rollback alarms on the new version, the traffic shift per stage)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
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


STAFF_SCOPE = "aws.cognito.signin.user.admin"
FUNCTIONS = {
    "WebhookFunction": "functions/webhook/",
    "ApiFunction": "functions/api/",
    "ProcessorFunction": "functions/processor/",
    "CleanupFunction": "functions/cleanup/",
    "BudgetAlertFunction": "functions/budget_alert/",
    "ReminderFunction": "functions/reminders/",
    "AdminFunction": "functions/admin/",
    "StaffFunction": "functions/staff/",
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
        ("DELETE", "/api/v1/ai/customers/{phone}"): ("ApiFunction", None),
    }
    api = props(template, "HttpApi")
    assert api["Auth"]["DefaultAuthorizer"] == "BackendJwt"
    jwt = api["Auth"]["Authorizers"]["BackendJwt"]["JwtConfiguration"]
    assert jwt == {"issuer": {"Ref": "JwtIssuer"}, "audience": [{"Ref": "JwtAudience"}]}
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRatePerSecond"}
    assert template.body["Parameters"]["ApiThrottleRatePerSecond"]["Default"] == pytest.approx(
        100 / 60, abs=0.01
    )


def test_every_protected_route_names_its_scopes(template: Template) -> None:
    from salonbot.api import auth

    # A route behind the JWT authorizer without scopes would take any token of the
    # issuer (an ID token, another API's): each one names the scopes it needs.
    known = {auth.AI_READ, auth.AI_WRITE, auth.AI_ADMIN, STAFF_SCOPE}
    scopes = {}
    for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items():
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            p = event["Properties"]
            route = f"{p['Method']} {p['Path']}"
            if (p.get("Auth") or {}).get("Authorizer") == "NONE":
                continue
            scopes[route] = p["Auth"]["AuthorizationScopes"]
            assert scopes[route] and set(scopes[route]) <= known, (logical_id, route)
    assert scopes["POST /api/v1/ai/process-message"] == [auth.AI_WRITE]
    assert scopes["GET /api/v1/ai/stats"] == [auth.AI_READ]
    # staff routes take only the console client's access tokens (ID tokens carry no scope)
    assert {r: s for r, s in scopes.items() if "/staff/" in r} == {
        f"{method} /api/v1/staff/{{route+}}": [STAFF_SCOPE] for method in ("GET", "POST", "PATCH")
    }


def test_staff_sign_in_is_the_user_pools_with_salon_groups(template: Template) -> None:
    api = props(template, "HttpApi")
    staff = api["Auth"]["Authorizers"]["StaffCognito"]["JwtConfiguration"]
    assert staff == {
        "issuer": {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${StaffUserPool}"},
        "audience": [{"Ref": "StaffConsoleClient"}],
    }
    for event in props(template, "StaffFunction")["Events"].values():
        p = event["Properties"]
        expected = "NONE" if p["Path"].startswith("/console") else "StaffCognito"
        assert p["Auth"]["Authorizer"] == expected, p["Path"]
    client = props(template, "StaffConsoleClient")
    # the hosted UI's code flow with PKCE: a public client, no secret, no implicit flow
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is False
    assert STAFF_SCOPE in client["AllowedOAuthScopes"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]
    pool = props(template, "StaffUserPool")
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert props(template, "StaffOwnerGroup")["GroupName"] == "owner"


def test_erasure_needs_the_admin_scope_and_reaches_every_customer_table(
    template: Template,
) -> None:
    route = props(template, "ApiFunction")["Events"]["ForgetCustomer"]["Properties"]
    assert route["Auth"] == {"AuthorizationScopes": ["ai:admin"]}  # on the default JWT
    for logical_id in ("ApiFunction", "AdminFunction"):
        variables = props(template, logical_id)["Environment"]["Variables"]
        assert variables["RATE_LIMIT_TABLE"] == {"Ref": "RateLimitTable"}
        assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
        assert variables["COST_TABLE"] == {"Ref": "CostTable"}
    # The admin function scans and deletes those three tables and nothing else
    statements = props(template, "AdminFunction")["Policies"][0]["Statement"]
    (dynamodb,) = [s for s in statements if "dynamodb:DeleteItem" in s["Action"]]
    assert sorted(dynamodb["Action"]) == ["dynamodb:DeleteItem", "dynamodb:Scan"]
    assert dynamodb["Resource"] == [
        {"Fn::GetAtt": [table, "Arn"]}
        for table in ("RateLimitTable", "IdempotencyTable", "CostTable")
    ]


def test_fifo_queue_redrives_to_a_dlq_and_outlives_the_processor(template: Template) -> None:
    queue = props(template, "InboundQueue")
    dlq = props(template, "DeadLetterQueue")
    processor = props(template, "ProcessorFunction")
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert queue["ContentBasedDeduplication"] is False
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": 10,
    }
    assert queue["VisibilityTimeout"] >= 6 * processor["Timeout"]
    # A failed message comes back sooner than the visibility timeout: the processor may
    # shorten it, on this queue only.
    (backoff,) = [
        s
        for s in _statements(processor["Policies"])
        if "sqs:ChangeMessageVisibility" in s["Action"]
    ]
    assert backoff["Resource"] == {"Fn::GetAtt": ["InboundQueue", "Arn"]}
    assert sorted(backoff["Action"]) == ["sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"]
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
    reminders = props(template, "ReminderFunction")["Events"]["Every5Minutes"]["Properties"]
    assert reminders["Schedule"] == "rate(5 minutes)"


def test_the_cleanup_gets_every_retention_period(template: Template) -> None:
    variables = props(template, "CleanupFunction")["Environment"]["Variables"]
    assert variables["CONVERSATION_RETENTION_DAYS"] == {"Ref": "ConversationRetentionDays"}
    assert variables["MESSAGE_RETENTION_DAYS"] == {"Ref": "MessageRetentionDays"}
    assert variables["CLIENT_RETENTION_DAYS"] == {"Ref": "ClientRetentionDays"}
    parameter = template.body["Parameters"]["ClientRetentionDays"]
    assert parameter["Default"] == Settings.model_fields["client_retention_days"].default
    assert parameter["MinValue"] == 30  # the setting's own lower bound
    Settings(client_retention_days=parameter["MinValue"])


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
        MetricName.MODEL_QUOTA_EXHAUSTED,
        MetricName.MODEL_AUTH_FAILURES,
        MetricName.SPEND_TODAY_USD,
    ):
        assert metric in emitted and metric in by_metric, metric
    # no credit or a rejected key alarms at its first occurrence, by its own name
    for lid, metric in (
        ("ModelQuotaExhaustedAlarm", MetricName.MODEL_QUOTA_EXHAUSTED),
        ("ModelAuthFailuresAlarm", MetricName.MODEL_AUTH_FAILURES),
    ):
        assert by_metric[metric] == lid
        assert alarms[lid]["Threshold"] == 1
        assert alarms[lid]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
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


def test_staff_notifications_reach_one_salon_per_subscription(template: Template) -> None:
    # Every subscription to the staff topic filters on the salon the notification names
    staff = {
        lid: props(template, lid)
        for lid in resources(template, "AWS::SNS::Subscription")
        if props(template, lid)["TopicArn"] == {"Ref": "StaffTopic"}
    }
    assert set(staff) == {"StaffEmailSubscription"}
    for subscription in staff.values():
        assert subscription["FilterPolicyScope"] == "MessageAttributes"
        assert subscription["FilterPolicy"] == {"salon_id": [{"Ref": "StaffSalonId"}]}
    # and the stack refuses a staff address without its salon
    (assertion,) = template.body["Rules"]["StaffEmailNamesItsSalon"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "StaffSalonId"}, ""]}]}
    # The functions that notify staff collapse notifications at the stack's interval
    for logical_id in ("ProcessorFunction", "ApiFunction"):
        variables = props(template, logical_id)["Environment"]["Variables"]
        assert variables["STAFF_NOTIFY_INTERVAL_MINUTES"] == {"Ref": "StaffNotifyIntervalMinutes"}
    assert template.body["Parameters"]["StaffNotifyIntervalMinutes"]["Default"] == 10


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
        "ReminderFunction",
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
        "ReminderFunction",
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


# -- gradual deploys ---------------------------------------------------------------------

CUSTOMER_FACING = ("WebhookFunction", "ProcessorFunction", "ApiFunction")
ALIAS = "live"


def _alarm_dimension_sets(alarm: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The dimensions of every metric an alarm reads (one set, or one per metric query)."""
    if "Dimensions" in alarm:
        return [alarm["Dimensions"]]
    return [
        query["MetricStat"]["Metric"]["Dimensions"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    ]


def _new_version_dimensions(function: str) -> list[dict[str, Any]]:
    return [
        {"Name": "FunctionName", "Value": {"Ref": function}},
        {"Name": "Resource", "Value": {"Fn::Sub": f"${{{function}}}:{ALIAS}"}},
        {"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": [function, "Version.Version"]}},
    ]


def _rollback_alarms(template: Template, function: str) -> dict[str, dict[str, Any]]:
    refs = props(template, function)["DeploymentPreference"]["Alarms"]
    assert all(set(ref) == {"Ref"} for ref in refs), refs
    return {ref["Ref"]: template.resources[ref["Ref"]] for ref in refs}


def test_customer_facing_functions_deploy_through_a_live_alias(template: Template) -> None:
    for function in CUSTOMER_FACING:
        p = props(template, function)
        assert p["AutoPublishAlias"] == ALIAS, function
        # any property change publishes a version, not only the handler folder's code
        assert p["AutoPublishAliasAllProperties"] is True, function
        assert p["DeploymentPreference"]["Type"] == {"Ref": "DeploymentPreferenceType"}
        assert p["DeploymentPreference"].get("Enabled", True) is True
    # the code lives in the layer: a new layer must publish new versions of those functions
    assert props(template, "CommonLayer")["PublishLambdaVersion"] is True
    # the schedules and the migrations' AdminFunction are invoked unqualified, as before
    for function in set(FUNCTIONS) - set(CUSTOMER_FACING):
        assert "AutoPublishAlias" not in props(template, function), function
        assert "DeploymentPreference" not in props(template, function), function
    assert props(template, "DatabaseMigrations")["ServiceToken"] == {
        "Fn::GetAtt": ["AdminFunction", "Arn"]
    }


def test_nothing_invokes_a_customer_facing_function_past_its_alias(template: Template) -> None:
    # SAM points the functions' own events at the alias; a permission, event source
    # mapping, URL or custom resource written here with the function's unqualified ARN
    # would reach $LATEST and skip the traffic shift.
    def walk(value: Any) -> list[Any]:
        found = [value]
        if isinstance(value, dict):
            for item in value.values():
                found.extend(walk(item))
        elif isinstance(value, list):
            for item in value:
                found.extend(walk(item))
        return found

    for logical_id, resource in template.resources.items():
        for value in walk(resource.get("Properties") or {}):
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                target, attribute = value["Fn::GetAtt"]
                assert not (target in CUSTOMER_FACING and attribute == "Arn"), logical_id
    invokers = ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::Url")
    assert template.resources_of_type(*invokers) == {}


def test_rollback_alarms_exist_and_measure_the_new_version(template: Template) -> None:
    error_rate = props(template, "ErrorRateAlarm")
    p95 = props(template, "ResponseTimeP95Alarm")
    for function in CUSTOMER_FACING:
        alarms = _rollback_alarms(template, function)
        assert alarms, function
        kinds = set()
        for logical_id, alarm in alarms.items():
            assert alarm["Type"] == "AWS::CloudWatch::Alarm", logical_id
            a = alarm["Properties"]
            # every metric the alarm reads is the new version's, behind the alias: a
            # stack-wide alarm (ErrorRateAlarm, DeadLetterAlarm) would roll back on the old
            # version's failures, or on an incident the deploy is meant to fix
            for dimensions in _alarm_dimension_sets(a):
                assert dimensions == _new_version_dimensions(function), logical_id
            periods = [q["MetricStat"]["Period"] for q in a.get("Metrics", []) if "MetricStat" in q]
            # one-minute data, or the alarm could not fire within a five-minute canary step
            assert set(periods or [a["Period"]]) == {60}, logical_id
            assert a["TreatMissingData"] == "notBreaching", logical_id
            assert a["AlarmActions"] == [{"Ref": "AlertTopic"}], logical_id
            names = _alarm_metric_names(a)
            if names == {"Errors", "Invocations"}:
                kinds.add("error rate")
                assert a["Threshold"] == error_rate["Threshold"]
                (rate,) = [q for q in a["Metrics"] if q.get("ReturnData")]
                assert "100 * FILL(errors, 0) / FILL(invocations, 0)" in rate["Expression"]
            elif names == {"Duration"}:
                kinds.add("p95")
                assert a["ExtendedStatistic"] == p95["ExtendedStatistic"] == "p95"
                assert a["Threshold"] == p95["Threshold"]
        assert kinds == {"error rate", "p95"}, function


def test_the_processor_error_rate_counts_failed_messages(template: Template) -> None:
    # Lambda's Errors count a failed message only because each invocation carries one
    # record, and an invocation whose every record failed raises (tested with the
    # processor in tests/integration/test_processor_events.py).
    (event,) = props(template, "ProcessorFunction")["Events"].values()
    assert event["Properties"]["BatchSize"] == 1


def _parameter_overrides(section: dict[str, Any]) -> dict[str, str]:
    pairs = shlex.split(section["deploy"]["parameters"]["parameter_overrides"])
    return dict(pair.split("=", 1) for pair in pairs)


def test_dev_shifts_all_at_once_and_prod_runs_a_canary(template: Template) -> None:
    parameter = template.body["Parameters"]["DeploymentPreferenceType"]
    assert parameter["Default"] == "AllAtOnce"
    allowed = set(parameter["AllowedValues"])
    assert "AllAtOnce" in allowed
    assert any(value.startswith("Canary") for value in allowed)
    assert any(value.startswith("Linear") for value in allowed)
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    dev, prod = _parameter_overrides(config["default"]), _parameter_overrides(config["prod"])
    assert dev["Stage"] == "dev" and prod["Stage"] == "prod"
    assert dev["DeploymentPreferenceType"] == "AllAtOnce"
    assert prod["DeploymentPreferenceType"].startswith("Canary")
    assert {dev["DeploymentPreferenceType"], prod["DeploymentPreferenceType"]} <= allowed


# The SAM transform, rendered by the translator SAM CLI itself uses (aws-sam-translator,
# a dev requirement), in a child process so its imports stay out of the test session:
# what CloudFormation deploys, not what the template says.
_RENDER = r"""
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

path, parameters = sys.argv[1], json.loads(sys.argv[2])


class NoManagedPolicies:
    def load(self):
        return {}


def render(layer_key):
    template = yaml_parse(open(path, encoding="utf-8").read())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            properties["CodeUri"] = "s3://bucket/" + properties["CodeUri"].strip("/")
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = "s3://bucket/" + layer_key
    return transform(template, dict(parameters), NoManagedPolicies())["Resources"]


json.dump({"first": render("layer-1"), "new_layer": render("layer-2")}, sys.stdout)
"""


@pytest.fixture(scope="module")
def transformed() -> dict[str, dict[str, Any]]:
    parameters = {"Stage": "prod", "DeploymentPreferenceType": "Canary10Percent10Minutes"}
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"}
    result = subprocess.run(
        [sys.executable, "-c", _RENDER, str(ROOT / "template.yaml"), json.dumps(parameters)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return rendered


def _of_type(rendered: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in rendered.items() if r["Type"] == kind}


def test_transform_points_the_routes_and_the_queue_at_the_alias(
    transformed: dict[str, dict[str, Any]],
) -> None:
    rendered = transformed["first"]
    aliases = _of_type(rendered, "AWS::Lambda::Alias")
    assert set(aliases) == {f"{function}Alias{ALIAS}" for function in CUSTOMER_FACING}
    (mapping,) = _of_type(rendered, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionName"] == {"Ref": f"ProcessorFunctionAlias{ALIAS}"}
    permissions = _of_type(rendered, "AWS::Lambda::Permission")
    for logical_id, permission in permissions.items():
        function = logical_id.split("Function", 1)[0] + "Function"
        if function in CUSTOMER_FACING:
            assert permission["Properties"]["FunctionName"] == {"Ref": f"{function}Alias{ALIAS}"}
    assert {lid for lid in permissions if lid.startswith(("Webhook", "Api"))} == {
        "WebhookFunctionVerifyPermission",
        "WebhookFunctionInboundPermission",
        "ApiFunctionHealthPermission",
        "ApiFunctionProcessMessagePermission",
        "ApiFunctionStatsPermission",
        "ApiFunctionForgetCustomerPermission",
    }
    paths = rendered["HttpApi"]["Properties"]["Body"]["paths"]
    uris = {
        (method.upper(), path): operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert len(uris) == 12
    # API Gateway itself refuses an erasure without the admin scope
    erasure = paths["/api/v1/ai/customers/{phone}"]["delete"]
    assert erasure["security"] == [{"BackendJwt": ["ai:admin"]}]
    for (_, path), uri in uris.items():
        if path.startswith(("/console", "/api/v1/staff")):  # the staff side, not aliased
            assert "/functions/${StaffFunction.Arn}/invocations" in uri, path
            continue
        function = "WebhookFunction" if path == "/webhook" else "ApiFunction"
        assert f"/functions/${{{function}Alias{ALIAS}}}/invocations" in uri, path


def test_transform_gives_api_gateway_each_routes_scopes(
    transformed: dict[str, dict[str, Any]],
) -> None:
    body = transformed["first"]["HttpApi"]["Properties"]["Body"]
    security = {
        f"{method.upper()} {path}": operation["security"]
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    open_routes = {"GET /webhook", "POST /webhook", "GET /api/v1/ai/health"}
    for route, requirement in security.items():
        if route in open_routes or route.split()[1].startswith("/console"):
            assert requirement == [{"NONE": []}], route
        elif "/api/v1/staff/" in route:
            assert requirement == [{"StaffCognito": [STAFF_SCOPE]}], route
        else:
            ((authorizer, scopes),) = (entry for r in requirement for entry in r.items())
            assert authorizer == "BackendJwt" and scopes, route
    assert security["POST /api/v1/ai/process-message"] == [{"BackendJwt": ["ai:write"]}]
    assert security["GET /api/v1/ai/stats"] == [{"BackendJwt": ["ai:read"]}]
    scheme = body["components"]["securitySchemes"]["BackendJwt"]["x-amazon-apigateway-authorizer"]
    assert scheme["type"] == "jwt"


def test_transform_shifts_with_codedeploy_and_rolls_back_on_the_alarms(
    transformed: dict[str, dict[str, Any]],
) -> None:
    rendered = transformed["first"]
    for function in CUSTOMER_FACING:
        alias = rendered[f"{function}Alias{ALIAS}"]
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert update["DeploymentGroupName"] == {"Ref": f"{function}DeploymentGroup"}
        group = rendered[f"{function}DeploymentGroup"]["Properties"]
        assert group["DeploymentConfigName"]["Fn::Sub"][1] == {
            "ConfigName": "Canary10Percent10Minutes"
        }
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
        assert group["AlarmConfiguration"]["Enabled"] is True
        alarm_ids = [entry["Name"]["Ref"] for entry in group["AlarmConfiguration"]["Alarms"]]
        assert alarm_ids
        # each alarm's ExecutedVersion is the version this deploy shifts the alias to
        version = alias["Properties"]["FunctionVersion"]
        for alarm_id in alarm_ids:
            for dimensions in _alarm_dimension_sets(rendered[alarm_id]["Properties"]):
                executed = {d["Name"]: d["Value"] for d in dimensions}["ExecutedVersion"]
                assert executed == version, alarm_id


def test_transform_publishes_new_versions_when_only_the_layer_changes(
    transformed: dict[str, dict[str, Any]],
) -> None:
    def versions(rendered: dict[str, Any]) -> set[str]:
        return set(_of_type(rendered, "AWS::Lambda::Version"))

    first, new_layer = versions(transformed["first"]), versions(transformed["new_layer"])
    assert len(first) == len(new_layer) == len(CUSTOMER_FACING)
    assert first.isdisjoint(new_layer)
