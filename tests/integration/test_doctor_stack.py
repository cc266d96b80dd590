"""`salonbot doctor --stack NAME` against a deployment made of moto's services (queues,
tables, topics, secrets, functions and their `live` aliases, log groups, alarms, the
schedule, the HTTP API's stage, the event source mapping, the RDS instance), the real
ApiFunction and AdminFunction handlers on the test database behind a stand-in for API
Gateway, and a stand-in for Meta's Graph API. A healthy deployment passes; each piece
taken away fails its item, naming the fix. CloudFormation itself is read from moto's."""

from __future__ import annotations

import copy
import io
import json
import threading
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import get_settings
from salonbot.conversation.sandbox import SANDBOX_PHONE
from salonbot.db.connection import Connection, reset_connection
from salonbot_dev.cli.remote import invoke_admin
from salonbot_dev.doctor import Report, run_checks
from salonbot_dev.doctor.aws import StackDoctor, StackResources, read_stack
from tests.conftest import DEMO_SALON_FILE
from tests.integration.api.conftest import FakeContext, load_api_handler, sample_event
from tests.integration.test_admin import InProcessLambda

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
STACK = "salonbot-prod"
TOKEN = "good-token"
APP_ID = "1234567890"
APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "meta-verify-token"


class FakeGateway:
    """API Gateway in front of the real ApiFunction handler (the JWT authorizer reduced to
    one accepted token, and the webhook's verification), and Meta's Graph API
    subscriptions endpoint."""

    def __init__(self) -> None:
        self.handler = load_api_handler().lambda_handler
        self.subscriptions: list[dict[str, Any]] = []
        self.processed: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.get(self)

            def do_POST(self) -> None:
                outer.post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def send(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def invoke(self, name: str, body: str | None = None) -> tuple[int, bytes]:
        event = copy.deepcopy(sample_event(name))
        if body is not None:
            event["body"] = body
        result = self.handler(event, FakeContext())
        return result["statusCode"], (result.get("body") or "").encode()

    def get(self, h: BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        if path == "/api/v1/ai/health":
            self.send(h, *self.invoke("api-health.json"))
        elif path == "/webhook":
            ok = params.get("hub.verify_token") == VERIFY_TOKEN
            self.send(h, 200 if ok else 403, params.get("hub.challenge", "").encode())
        elif path == f"/v21.0/{APP_ID}/subscriptions":
            if params.get("access_token") != f"{APP_ID}|{APP_SECRET}":
                self.send(h, 400, {"error": {"message": "Invalid OAuth access token"}})
            else:
                self.send(h, 200, {"data": self.subscriptions})
        else:
            self.send(h, 404, {"message": "Not Found"})

    def post(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode()
        if h.path != "/api/v1/ai/process-message":
            self.send(h, 404, {"message": "Not Found"})
        elif h.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send(h, 401, {"message": "Unauthorized"})
        else:
            self.processed.append(json.loads(body))
            self.send(h, *self.invoke("api-process-message.json", body))


@pytest.fixture
def gateway(
    db: Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeGateway]:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "COST_TABLE", "RATE_LIMIT_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    get_settings.cache_clear()
    reset_connection()
    from salonbot.api import health, routes

    routes.message_service.cache_clear()
    health.reset_cache()
    fake = FakeGateway()
    yield fake
    fake.stop()
    get_settings.cache_clear()
    routes.message_service.cache_clear()
    reset_connection()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@dataclass
class Deployment:
    """The deployed stack, made piece by piece in moto; `resources` as CloudFormation
    would list them."""

    gateway: FakeGateway
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def add(self, logical: str, kind: str, physical: str) -> str:
        self.resources[logical] = (kind, physical)
        return physical

    def build(self) -> Deployment:
        sqs, dynamodb, sns = self.client("sqs"), self.client("dynamodb"), self.client("sns")
        secrets, lam, logs = (
            self.client("secretsmanager"),
            self.client("lambda"),
            self.client("logs"),
        )
        dlq = sqs.create_queue(
            QueueName=f"{STACK}-DeadLetterQueue.fifo", Attributes={"FifoQueue": "true"}
        )
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        inbound = sqs.create_queue(
            QueueName=f"{STACK}-InboundQueue.fifo",
            Attributes={
                "FifoQueue": "true",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
            },
        )
        self.add("DeadLetterQueue", "AWS::SQS::Queue", dlq["QueueUrl"])
        queue = self.add("InboundQueue", "AWS::SQS::Queue", inbound["QueueUrl"])
        tables = {}
        for logical in ("IdempotencyTable", "CostTable", "RateLimitTable"):
            name = f"{STACK}-{logical}"
            dynamodb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            tables[logical] = self.add(logical, "AWS::DynamoDB::Table", name)
        dynamodb.update_continuous_backups(
            TableName=tables["CostTable"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        alert = sns.create_topic(Name=f"{STACK}-AlertTopic")["TopicArn"]
        staff = sns.create_topic(Name=f"{STACK}-StaffTopic")["TopicArn"]
        self.add("AlertTopic", "AWS::SNS::Topic", alert)
        self.add("StaffTopic", "AWS::SNS::Topic", staff)
        sns.subscribe(TopicArn=alert, Protocol="email", Endpoint="ops@salon.example")

        rds = self.client("rds")
        db = rds.create_db_instance(
            DBInstanceIdentifier="salonbot-db",
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            MasterUsername="salonbot",
            MasterUserPassword="not-a-real-password",
            AllocatedStorage=20,
            BackupRetentionPeriod=7,
        )["DBInstance"]
        db_secret = secrets.create_secret(
            Name="salonbot/prod/db",
            SecretString=json.dumps({"username": "salonbot", "password": "x"}),
            Tags=[{"Key": "aws:rds:primaryDBInstanceArn", "Value": db["DBInstanceArn"]}],
        )["ARN"]
        arns = {
            name: secrets.create_secret(Name=f"salonbot/prod/{name}", SecretString=value)["ARN"]
            for name, value in (
                ("app-secret", APP_SECRET),
                ("verify-token", VERIFY_TOKEN),
                ("access-token", "EAAG-token"),
            )
        }
        common = {"DB_SECRET_ARN": db_secret, "DB_NAME": "salonbot"}
        environments = {
            "WebhookFunction": {
                "QUEUE_URL": queue,
                "IDEMPOTENCY_TABLE": tables["IdempotencyTable"],
                "WHATSAPP_APP_SECRET_ARN": arns["app-secret"],
                "WHATSAPP_VERIFY_TOKEN_ARN": arns["verify-token"],
            },
            "ProcessorFunction": {
                **common,
                "WHATSAPP_ACCESS_TOKEN_SECRET_ARN": arns["access-token"],
                "WHATSAPP_API_BASE_URL": self.gateway.url + "/v21.0",
                "COST_TABLE": tables["CostTable"],
                "RATE_LIMIT_TABLE": tables["RateLimitTable"],
                "STAFF_TOPIC_ARN": staff,
                "GLOBAL_DAILY_BUDGET_USD": "50",
            },
            "ApiFunction": {
                **common,
                "COST_TABLE": tables["CostTable"],
                "RATE_LIMIT_TABLE": tables["RateLimitTable"],
                "STAFF_TOPIC_ARN": staff,
            },
            "AdminFunction": dict(common),
            "CleanupFunction": dict(common),
            "BudgetAlertFunction": {
                **common,
                "COST_TABLE": tables["CostTable"],
                "ALERT_TOPIC_ARN": alert,
            },
        }
        role = self.client("iam").create_role(
            RoleName="salonbot-functions", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        for logical, variables in environments.items():
            name = f"{STACK}-{logical}"
            group = logs.create_log_group(logGroupName=f"/aws/lambda/{name}")
            del group
            logs.put_retention_policy(logGroupName=f"/aws/lambda/{name}", retentionInDays=30)
            self.add(f"{logical}Logs", "AWS::Logs::LogGroup", f"/aws/lambda/{name}")
            lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": _zip()},
                Environment={"Variables": variables},
                LoggingConfig={"LogGroup": f"/aws/lambda/{name}", "LogFormat": "JSON"},
                Publish=True,
            )
            if logical in ("WebhookFunction", "ProcessorFunction", "ApiFunction"):
                lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
            self.add(logical, "AWS::Lambda::Function", name)
        mapping = lam.create_event_source_mapping(
            EventSourceArn=sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"],
            FunctionName=f"{STACK}-ProcessorFunction:live",
            BatchSize=1,
            ScalingConfig={"MaximumConcurrency": 10},
        )
        self.add("ProcessorFunctionInbound", "AWS::Lambda::EventSourceMapping", mapping["UUID"])

        events = self.client("events")
        events.put_rule(Name=f"{STACK}-BudgetAlert", ScheduleExpression="rate(15 minutes)")
        self.add("BudgetAlertFunctionEvery15Minutes", "AWS::Events::Rule", f"{STACK}-BudgetAlert")
        cloudwatch = self.client("cloudwatch")
        for logical in ("ErrorRateAlarm", "DailyCostAlarm", "DeadLetterAlarm"):
            name = f"{STACK}-{logical}-ABC123"
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="Errors",
                Namespace="Salonbot",
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanThreshold",
                AlarmActions=[alert],
            )
            self.add(logical, "AWS::CloudWatch::Alarm", name)
        api = self.client("apigatewayv2")
        api_id = api.create_api(Name=STACK, ProtocolType="HTTP")["ApiId"]
        api.create_stage(
            ApiId=api_id,
            StageName="$default",
            DefaultRouteSettings={"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 1.67},
            RouteSettings={
                "POST /webhook": {"ThrottlingBurstLimit": 1000, "ThrottlingRateLimit": 500}
            },
        )
        self.add("HttpApi", "AWS::ApiGatewayV2::Api", api_id)
        self.outputs = {
            "ApiUrl": self.gateway.url,
            "WebhookUrl": self.gateway.url + "/webhook",
            "AdminFunctionName": f"{STACK}-AdminFunction",
        }
        self.gateway.subscriptions = [
            {
                "object": "whatsapp_business_account",
                "callback_url": self.gateway.url + "/webhook",
                "active": True,
                "fields": [{"name": "messages", "version": "v21.0"}],
            }
        ]
        return self

    def doctor(self, **overrides: Any) -> Report:
        service = InProcessLambda()
        options: dict[str, Any] = {"api_token": TOKEN, "meta_app_id": APP_ID} | overrides
        target = StackDoctor(
            StackResources(STACK, self.outputs, self.resources),
            self.client,
            lambda payload: invoke_admin(
                self.outputs["AdminFunctionName"], payload, client=service
            ),
            **options,
        )
        return run_checks(target, target.description)


@pytest.fixture
def deployment(gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield Deployment(gateway).build()


def statuses(report: Report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in report.findings:
        found.setdefault(f.check, []).append(f.status)
    return found


def test_a_healthy_deployment_passes_every_item(deployment: Deployment, db: Connection) -> None:
    report = deployment.doctor()

    assert report.failed == [], "\n".join(report.lines())
    assert statuses(report) == {
        "database": ["ok"],
        "openai": ["warn"],  # no key: guided flow only
        "settings": ["ok"],
        "health": ["ok"],
        "test_message": ["ok"],
        "webhook": ["ok", "ok"],
        "cost_monitoring": ["ok"],
        "alarms": ["ok", "ok"],
        "logging": ["ok"],
        "backups": ["ok", "ok", "ok", "ok"],
        "throttling": ["ok", "ok", "ok"],
        "error_handling": ["ok"],
        "ai_switch": ["ok"],
    }
    # The test message went through process-message with the sandbox number and was
    # cleaned up through AdminFunction
    (sent,) = deployment.gateway.processed
    assert sent["phone_number"] == SANDBOX_PHONE
    left = db.execute(
        "SELECT count(*) AS n FROM ai_conversations WHERE phone_number = %s", (SANDBOX_PHONE,)
    ).fetchone()
    db.rollback()
    assert left == {"n": 0}
    backups = [f.detail for f in report.findings if f.check == "backups"]
    assert backups[0].startswith("RDS instance salonbot-db: automated backups kept 7 days")


def _sqs_delete(d: Deployment) -> None:
    d.client("sqs").delete_queue(QueueUrl=d.resources["InboundQueue"][1])


def _pitr_off(d: Deployment) -> None:
    d.client("dynamodb").update_continuous_backups(
        TableName=d.resources["CostTable"][1],
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )


def _rds_backups_off(d: Deployment) -> None:
    d.client("rds").modify_db_instance(
        DBInstanceIdentifier="salonbot-db", BackupRetentionPeriod=0, ApplyImmediately=True
    )


def _no_retention(d: Deployment) -> None:
    d.client("logs").delete_retention_policy(logGroupName=d.resources["ProcessorFunctionLogs"][1])


def _alarm_actions_off(d: Deployment) -> None:
    d.client("cloudwatch").disable_alarm_actions(AlarmNames=[d.resources["ErrorRateAlarm"][1]])


def _nobody_subscribed(d: Deployment) -> None:
    sns = d.client("sns")
    for s in sns.list_subscriptions_by_topic(TopicArn=d.resources["AlertTopic"][1])[
        "Subscriptions"
    ]:
        sns.unsubscribe(SubscriptionArn=s["SubscriptionArn"])


def _schedule_off(d: Deployment) -> None:
    d.client("events").disable_rule(Name=d.resources["BudgetAlertFunctionEvery15Minutes"][1])


def _no_api_throttling(d: Deployment) -> None:
    api = d.client("apigatewayv2")
    api_id = d.resources["HttpApi"][1]
    api.delete_stage(ApiId=api_id, StageName="$default")
    api.create_stage(ApiId=api_id, StageName="$default")


def _secret_without_value(d: Deployment) -> None:
    lam = d.client("lambda")
    name = d.resources["ProcessorFunction"][1]
    arn = d.client("secretsmanager").create_secret(Name="salonbot/prod/empty")["ARN"]
    config = lam.get_function_configuration(FunctionName=name, Qualifier="live")
    variables = config["Environment"]["Variables"] | {"WHATSAPP_ACCESS_TOKEN_SECRET_ARN": arn}
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=version)


def _wrong_callback(d: Deployment) -> None:
    d.gateway.subscriptions[0]["callback_url"] = "https://old.example.com/webhook"


def _migration_pending(d: Deployment) -> Callable[[], None]:
    """The session's database is shared: the migration's record comes back afterwards."""
    from salonbot.db.connection import connect

    url = get_settings().database_url or ""
    with connect(url) as conn:
        (row,) = conn.execute("DELETE FROM schema_migrations WHERE version = 4 RETURNING *")

    def restore() -> None:
        with connect(url) as conn:
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (%(version)s, %(name)s, %(checksum)s, %(applied_at)s)",
                row,
            )

    return restore


# (piece taken away, how, the item that fails, a phrase of the fix)
PIECES: list[tuple[str, Callable[[Deployment], Callable[[], None] | None], str, str]] = [
    ("inbound queue", _sqs_delete, "settings", "detect-stack-drift"),
    ("cost table PITR", _pitr_off, "backups", "update-continuous-backups"),
    ("RDS backups", _rds_backups_off, "backups", "--backup-retention-period 7"),
    ("log retention", _no_retention, "logging", "put-retention-policy"),
    ("alarm actions", _alarm_actions_off, "alarms", "enable-alarm-actions"),
    ("alert subscribers", _nobody_subscribed, "alarms", "AlertEmail"),
    ("budget schedule", _schedule_off, "cost_monitoring", "aws events enable-rule"),
    ("API throttling", _no_api_throttling, "throttling", "ApiThrottleRatePerSecond"),
    ("secret value", _secret_without_value, "settings", "put-secret-value"),
    ("Meta subscription", _wrong_callback, "webhook", "callback URL"),
    ("a migration", _migration_pending, "database", "salonbot migrate --function"),
]


@pytest.mark.parametrize(("piece", "remove", "check", "fix"), PIECES, ids=[p[0] for p in PIECES])
def test_a_missing_piece_fails_its_item_naming_the_fix(
    deployment: Deployment,
    piece: str,
    remove: Callable[[Deployment], Callable[[], None] | None],
    check: str,
    fix: str,
) -> None:
    restore = remove(deployment)
    try:
        report = deployment.doctor()
    finally:
        if restore is not None:
            restore()

    failed = [f for f in report.failed if f.check == check]
    assert failed, "\n".join(report.lines())
    assert any(fix in (f.fix or "") for f in failed), "\n".join(report.lines())


def test_without_a_token_or_an_app_id_those_items_fail_saying_what_to_pass(
    deployment: Deployment,
) -> None:
    report = deployment.doctor(api_token=None, meta_app_id=None)

    fixes = {f.check: f.fix or "" for f in report.failed}
    assert set(fixes) == {"test_message", "webhook"}
    assert "--api-token" in fixes["test_message"]
    assert "--meta-app-id" in fixes["webhook"]
    assert deployment.gateway.processed == []


def test_the_stack_is_read_from_cloudformation(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    template = {
        "Resources": {
            "InboundQueue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "CostTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
        },
        "Outputs": {"InboundQueueUrl": {"Value": {"Ref": "InboundQueue"}}},
    }
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))

        stack = read_stack(cloudformation, STACK)

        from salonbot.errors import NotFound

        with pytest.raises(NotFound):
            read_stack(cloudformation, "no-such-stack")
    assert stack.resources["InboundQueue"][0] == "AWS::SQS::Queue"
    assert stack.outputs["InboundQueueUrl"] == stack.physical("InboundQueue")
    assert stack.of_type("AWS::DynamoDB::Table") == {"CostTable": stack.physical("CostTable")}
