"""`salonbot doctor --stack NAME`: the checklist against a deployed stack, read with boto3
and your AWS credentials. CloudFormation names the stack's resources (outputs and
physical ids); each check then asks the service that owns the resource. What only the
database can say (schema, salons, the kill switch) comes from the stack's AdminFunction,
which runs inside the VPC, as `salonbot migrate --function` does.

The test message goes through the AI API (`POST /api/v1/ai/process-message`, which needs
a JWT: `--api-token`), not through WhatsApp, so no real phone is written to; the sandbox
conversation is deleted afterwards through AdminFunction (`clear_sandbox`)."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from salonbot_dev.doctor import Outcome, fail, ok, skip, warn
from salonbot_dev.doctor.common import (
    HEALTH_PATH,
    PROCESS_MESSAGE_PATH,
    REQUIRED_SETTINGS,
    SANDBOX_TEXT,
    HttpAnswer,
    first_set,
    forget_sandbox_count,
    health_outcomes,
    http,
    openai_outcomes,
    schema_outcomes,
    switch_outcomes,
    verify_handshake,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# Functions whose `live` alias serves customers (the canary deploys): their settings are
# read from the alias, which is what runs.
ALIASED = ("WebhookFunction", "ProcessorFunction", "ApiFunction")
# DynamoDB tables and why each needs point-in-time recovery or not (template.yaml).
TABLE_BACKUPS = {
    "CostTable": None,  # needs it: spend counters and alert markers of the day
    "IdempotencyTable": "message-id claims kept 8 days; PostgreSQL's ledger dedupes too",
    "RateLimitTable": "one-minute rate windows",
}
DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"
DEPLOY = "deploy the stack again (`sam deploy`): the template sets it"


@dataclass(frozen=True)
class StackResources:
    """What CloudFormation says the stack is."""

    name: str
    outputs: dict[str, str]
    resources: dict[str, tuple[str, str]]  # logical id -> (type, physical id)

    def physical(self, logical_id: str) -> str | None:
        found = self.resources.get(logical_id)
        return found[1] if found else None

    def of_type(self, kind: str) -> dict[str, str]:
        return {lid: pid for lid, (t, pid) in self.resources.items() if t == kind}


def read_stack(cloudformation: Any, name: str) -> StackResources:
    """The stack's outputs and resources. NotFound when there is no such stack,
    ConfigurationError when AWS cannot be asked (no credentials, no region)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from salonbot.errors import ConfigurationError, NotFound, SalonbotError

    try:
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if _code(exc) == "ValidationError":  # CloudFormation's answer for a missing stack
            raise NotFound(f"no CloudFormation stack {name} in this account and region") from exc
        raise SalonbotError(f"CloudFormation refused to describe {name}: {exc}") from exc
    except BotoCoreError as exc:
        raise ConfigurationError(f"AWS cannot be asked: {exc} (credentials, --region)") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    resources: dict[str, tuple[str, str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
        for r in page["StackResourceSummaries"]:
            if r.get("PhysicalResourceId"):
                resources[r["LogicalResourceId"]] = (r["ResourceType"], r["PhysicalResourceId"])
    return StackResources(name, outputs, resources)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__)


@dataclass
class StackDoctor:
    stack: StackResources
    client: Callable[[str], Any]  # boto3 client factory, e.g. session.client
    admin: Callable[[dict[str, Any]], dict[str, Any]]  # invokes AdminFunction
    salon_id: str | None = None
    api_token: str | None = None
    meta_app_id: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_stack(
        cls,
        name: str,
        *,
        region: str | None = None,
        salon_id: str | None = None,
        api_token: str | None = None,
        meta_app_id: str | None = None,
    ) -> StackDoctor:
        import boto3

        from salonbot_dev.cli.remote import invoke_admin

        session = boto3.session.Session(region_name=region)
        stack = read_stack(session.client("cloudformation"), name)
        function = stack.outputs.get("AdminFunctionName") or stack.physical("AdminFunction")
        lambda_client = session.client("lambda")

        def admin(payload: dict[str, Any]) -> dict[str, Any]:
            if not function:
                from salonbot.errors import ConfigurationError

                raise ConfigurationError(f"the stack {name} has no AdminFunction")
            return invoke_admin(function, payload, client=lambda_client)

        def client(service: str) -> Any:
            return session.client(service)  # type: ignore[call-overload]

        return cls(stack, client, admin, salon_id, api_token, meta_app_id)

    @property
    def description(self) -> str:
        return f"stack {self.stack.name} ({self.api_url or 'no ApiUrl output'})"

    # -- plumbing -----------------------------------------------------------------------
    def aws(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.client(service)
        return self._clients[service]

    @property
    def api_url(self) -> str:
        return self.stack.outputs.get("ApiUrl", "").rstrip("/")

    @property
    def admin_function(self) -> str:
        return self.stack.outputs.get("AdminFunctionName") or "<AdminFunction>"

    @cached_property
    def facts(self) -> dict[str, Any]:
        """Schema, salons and switches, from AdminFunction."""
        return self.admin({"action": "doctor"})

    @cached_property
    def health_answer(self) -> HttpAnswer:
        if not self.api_url:
            return HttpAnswer(None, error="the stack has no ApiUrl output")
        return http(self.api_url + HEALTH_PATH)

    @cached_property
    def configurations(self) -> dict[str, dict[str, Any]]:
        """Each function's configuration (of its `live` alias where it has one)."""
        lam = self.aws("lambda")
        found = {}
        for logical, physical in self.stack.of_type("AWS::Lambda::Function").items():
            extra = {"Qualifier": "live"} if logical in ALIASED else {}
            try:
                found[logical] = lam.get_function_configuration(FunctionName=physical, **extra)
            except Exception as exc:
                found[logical] = {"error": _code(exc)}
        return found

    def environment(self, logical: str) -> dict[str, str]:
        config = self.configurations.get(logical) or {}
        return dict((config.get("Environment") or {}).get("Variables") or {})

    def secret_value(self, arn: str) -> str | None:
        try:
            return str(self.aws("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        except Exception:
            return None

    def admin_problem(self) -> Outcome | None:
        try:
            _ = self.facts
        except Exception as exc:
            return fail(
                f"AdminFunction {self.admin_function} could not answer: {exc}",
                "check that your credentials may invoke it (lambda:InvokeFunction) and read "
                "its log group; the database may be unreachable from its VPC",
            )
        return None

    # -- the checklist --------------------------------------------------------------------
    def database(self) -> list[Outcome]:
        problem = self.admin_problem()
        if problem:
            return [problem]
        return schema_outcomes(
            self.facts["schema"],
            migrate=f"salonbot migrate --function {self.admin_function}",
            restore="restore them from the database's latest backup (RDS point-in-time "
            "restore), then `salonbot migrate --function`",
        )

    def openai(self) -> list[Outcome]:
        return openai_outcomes(
            self.health_answer,
            where_key="the secret OpenAiApiKeySecretArn names (aws secretsmanager "
            "put-secret-value), or set that parameter and deploy",
        )

    def settings(self) -> list[Outcome]:
        found: list[Outcome] = []
        checked: dict[tuple[str, str], str | None] = {}
        functions = self.configurations
        for logical, config in functions.items():
            if "error" in config:
                found.append(
                    fail(
                        f"{logical}: its configuration cannot be read ({config['error']})",
                        "check your credentials may call lambda:GetFunctionConfiguration",
                    )
                )
        for required in REQUIRED_SETTINGS:
            for logical in required.functions:
                if logical not in functions or "error" in functions[logical]:
                    continue
                present = first_set(self.environment(logical), required.names)
                if present is None:
                    fix = (
                        f"set the stack parameter {required.parameter} and deploy"
                        if required.parameter
                        else DEPLOY
                    )
                    found.append(
                        fail(f"{logical}: {required.names[-1]} ({required.what}) is empty", fix)
                    )
                    continue
                key = (required.kind, present[1])
                if key not in checked:
                    checked[key] = self._resource_problem(required.kind, present[1])
                if checked[key]:
                    found.append(
                        fail(
                            f"{logical}: {present[0]}: {checked[key]}",
                            self._fix(required.kind, present[1]),
                        )
                    )
        if not found:
            found.append(
                ok(
                    f"every function has its settings, and the secrets, queue, tables and "
                    f"topics they name exist ({len(checked)} checked)"
                )
            )
        return found

    def _resource_problem(self, kind: str, value: str) -> str | None:
        try:
            if kind == "secret":
                if not value.startswith("arn:"):
                    return None  # a value given directly (DATABASE_URL)
                described = self.aws("secretsmanager").describe_secret(SecretId=value)
                stages = [
                    s for v in (described.get("VersionIdsToStages") or {}).values() for s in v
                ]
                if "AWSCURRENT" not in stages:
                    return f"the secret {value} has no value"
            elif kind == "queue":
                self.aws("sqs").get_queue_attributes(QueueUrl=value, AttributeNames=["QueueArn"])
            elif kind == "table":
                self.aws("dynamodb").describe_table(TableName=value)
            elif kind == "topic":
                self.aws("sns").get_topic_attributes(TopicArn=value)
        except Exception as exc:
            return f"{value} does not exist or cannot be read ({_code(exc)})"
        return None

    def _fix(self, kind: str, value: str) -> str:
        if kind == "secret":
            return (
                f"create the secret or give it a value: aws secretsmanager put-secret-value "
                f"--secret-id {value} --secret-string '...'"
            )
        return (
            f"{value} was deleted outside CloudFormation: find it with `aws cloudformation "
            f"detect-stack-drift --stack-name {self.stack.name}`, recreate it with the "
            "template's properties (or delete and redeploy the stack)"
        )

    def health(self) -> list[Outcome]:
        return health_outcomes(
            self.health_answer,
            self.api_url + HEALTH_PATH,
            unreachable_fix="check the HTTP API (output ApiUrl) exists and the network path "
            "to it; a 5xx: ApiFunction's log group",
        )

    def test_message(self) -> list[Outcome]:
        from salonbot.conversation.sandbox import SANDBOX_PHONE

        if not self.api_token:
            return [
                fail(
                    "not sent: process-message needs a JWT and none was given",
                    "pass --api-token TOKEN (or set SALONBOT_API_TOKEN): a token from the "
                    "stack's JwtIssuer for its JwtAudience that may call process-message",
                )
            ]
        problem = self.admin_problem()
        if problem:
            return [problem]
        salons = self.facts["salons"]
        salon = (
            next((s for s in salons if s["id"] == self.salon_id), None)
            if self.salon_id
            else (salons[0] if salons else None)
        )
        if salon is None:
            return [
                fail(
                    f"no salon {self.salon_id or ''} to send the test message to".replace(
                        "  ", " "
                    ),
                    f"import one: `salonbot salon import FILE --function {self.admin_function}`",
                )
            ]
        url = self.api_url + PROCESS_MESSAGE_PATH
        forget_sandbox_count(self.aws("dynamodb"), self.environment("ApiFunction"), salon["id"])
        try:
            answer = http(
                url,
                method="POST",
                body={
                    "salon_id": salon["id"],
                    "phone_number": SANDBOX_PHONE,
                    "message": SANDBOX_TEXT,
                    "conversation_id": "salonbot-doctor",
                },
                headers={"Authorization": f"Bearer {self.api_token}"},
                timeout_s=35,
            )
        finally:
            cleared = self.admin({"action": "clear_sandbox"})["cleared"]
        body = answer.json() if answer.status is not None else None
        if answer.status in (401, 403):
            return [
                fail(
                    f"POST {url} refused the token (HTTP {answer.status})",
                    "give a valid, unexpired token of the stack's JwtIssuer for its JwtAudience, "
                    f"with scope ai:write, for the salon {salon['id']} (or choose its salon "
                    "with --salon)",
                )
            ]
        if answer.status != 200 or not isinstance(body, dict):
            got = answer.error or f"HTTP {answer.status}: {(body or {}).get('message')}"
            return [fail(f"POST {url} failed ({got})", "read ApiFunction's log group")]
        by = body.get("model") or (
            "its staff" if body.get("handled_by") == "staff" else "the guided flow"
        )
        extra = "; a booking it made was deleted" if cleared.get("bookings") else ""
        return [
            ok(
                f"a sandbox greeting to {salon['name']} was answered by {by} in "
                f"{body.get('response_time_ms')} ms; its conversation was deleted, no booking "
                f"left{extra}"
            )
        ]

    def webhook(self) -> list[Outcome]:
        env = self.environment("WebhookFunction")
        found: list[Outcome] = []
        token_arn = env.get("WHATSAPP_VERIFY_TOKEN_ARN")
        token = self.secret_value(token_arn) if token_arn else None
        if not self.api_url:
            found.append(fail("the stack has no ApiUrl output", DEPLOY))
        elif token is None:
            found.append(
                skip(
                    "the verification handshake: the verify token's secret is not readable "
                    "with these credentials (or not set: see settings)"
                )
            )
        else:
            found.append(verify_handshake(self.api_url, token))
        found.append(self._subscription(env))
        return found

    def _subscription(self, env: dict[str, str]) -> Outcome:
        """Graph API `GET /{app-id}/subscriptions` with the app's access token
        (`{app-id}|{app-secret}`): the app must send `messages` to this stack's webhook."""
        if not self.meta_app_id:
            return fail(
                "the app's webhook subscription: not checked, no Meta app id given",
                "pass --meta-app-id ID (or set META_APP_ID): Meta's app dashboard, App "
                "settings → Basic",
            )
        secret_arn = env.get("WHATSAPP_APP_SECRET_ARN")
        secret = self.secret_value(secret_arn) if secret_arn else None
        if secret is None:
            return fail(
                "the app's webhook subscription: the app secret is not readable with these "
                "credentials (or not set)",
                "run with credentials that may read WhatsAppAppSecretArn's secret",
            )
        graph = self.environment("ProcessorFunction").get("WHATSAPP_API_BASE_URL") or (
            DEFAULT_GRAPH_URL
        )
        query = urllib.parse.urlencode({"access_token": f"{self.meta_app_id}|{secret}"})
        answer = http(f"{graph.rstrip('/')}/{self.meta_app_id}/subscriptions?{query}")
        expected = self.stack.outputs.get("WebhookUrl") or f"{self.api_url}/webhook"
        subscribe = (
            f"in Meta's app dashboard → WhatsApp → Configuration: callback URL {expected}, the "
            "verify token of WhatsAppVerifyTokenSecretArn, and subscribe the `messages` field"
        )
        if answer.status != 200:
            message = (
                ((answer.json() or {}).get("error") or {}).get("message")
                if answer.status
                else answer.error
            )
            return fail(
                f"Graph API GET /{self.meta_app_id}/subscriptions failed ({message})",
                "check the app id, and that the app secret in WhatsAppAppSecretArn is the app's",
            )
        subscriptions = (answer.json() or {}).get("data") or []
        waba = next(
            (s for s in subscriptions if s.get("object") == "whatsapp_business_account"), None
        )
        if waba is None:
            return fail("the Meta app has no WhatsApp webhook subscription", subscribe)
        fields = {f.get("name") for f in waba.get("fields") or []}
        if waba.get("callback_url") != expected:
            return fail(
                f"the Meta app sends its webhooks to {waba.get('callback_url')}, not {expected}",
                subscribe,
            )
        if not waba.get("active") or "messages" not in fields:
            return fail("the subscription is inactive or lacks the `messages` field", subscribe)
        return ok(f"the Meta app sends `messages` to {expected}")

    def cost_monitoring(self) -> list[Outcome]:
        found: list[Outcome] = []
        rules = {
            lid: pid
            for lid, pid in self.stack.of_type("AWS::Events::Rule").items()
            if lid.startswith("BudgetAlertFunction")
        }
        if not rules:
            found.append(fail("the budget alert schedule is not in the stack", DEPLOY))
        for logical, name in rules.items():
            try:
                state = self.aws("events").describe_rule(Name=name)["State"]
            except Exception as exc:
                found.append(fail(f"{logical}: {name} cannot be read ({_code(exc)})", DEPLOY))
                continue
            if state != "ENABLED":
                found.append(
                    fail(
                        f"the budget alert schedule {name} is {state}",
                        f"aws events enable-rule --name {name}",
                    )
                )
        if "DailyCostAlarm" not in self.stack.resources:
            found.append(fail("the DailyCostAlarm is not in the stack", DEPLOY))
        budget = self.environment("ProcessorFunction").get("GLOBAL_DAILY_BUDGET_USD")
        if not found:
            found.append(
                ok(
                    f"budget alerts run on schedule, the daily cost alarm exists, spend is "
                    f"capped at ${budget or '?'} a day over all salons"
                )
            )
        return found

    def alarms(self) -> list[Outcome]:
        names = sorted(self.stack.of_type("AWS::CloudWatch::Alarm").values())
        if not names:
            return [fail("the stack has no CloudWatch alarms", DEPLOY)]
        cloudwatch = self.aws("cloudwatch")
        seen: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), 100):
            answer = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
            seen |= {a["AlarmName"]: a for a in answer.get("MetricAlarms", [])}
            seen |= {a["AlarmName"]: a for a in answer.get("CompositeAlarms", [])}
        found: list[Outcome] = []
        missing = [n for n in names if n not in seen]
        if missing:
            found.append(
                fail(f"alarms missing: {', '.join(missing)}", self._fix("alarm", missing[0]))
            )
        silent = [
            n
            for n, a in seen.items()
            if not a.get("ActionsEnabled", True) or not a.get("AlarmActions")
        ]
        if silent:
            found.append(
                fail(
                    f"alarms with no action: {', '.join(sorted(silent))}",
                    f"aws cloudwatch enable-alarm-actions --alarm-names {' '.join(sorted(silent))}"
                    " (the template gives each the alert topic)",
                )
            )
        found.append(self._alert_subscribers())
        if not missing and not silent:
            found.insert(0, ok(f"{len(names)} alarms, each notifying the alert topic"))
        return found

    def _alert_subscribers(self) -> Outcome:
        topic = self.stack.physical("AlertTopic") or self.stack.outputs.get("AlertTopicArn")
        if not topic:
            return fail("the stack has no alert topic", DEPLOY)
        try:
            subscriptions = self.aws("sns").list_subscriptions_by_topic(TopicArn=topic)[
                "Subscriptions"
            ]
        except Exception as exc:
            return fail(f"the alert topic cannot be read ({_code(exc)})", DEPLOY)
        confirmed = [s for s in subscriptions if s["SubscriptionArn"].startswith("arn:")]
        pending = len(subscriptions) - len(confirmed)
        if confirmed:
            who = ", ".join(f"{s['Protocol']}:{s['Endpoint']}" for s in confirmed)
            return ok(f"the alert topic reaches {who}")
        if pending:
            return fail(
                f"the alert topic's {pending} subscription(s) are not confirmed: nobody gets "
                "the alarms",
                "confirm the subscription e-mail AWS sent to the AlertEmail address",
            )
        return fail(
            "nobody is subscribed to the alert topic: the alarms reach no one",
            "set the AlertEmail parameter and deploy, then confirm the e-mail; or "
            f"aws sns subscribe --topic-arn {topic} --protocol email "
            "--notification-endpoint ADDRESS",
        )

    def logging(self) -> list[Outcome]:
        groups = sorted(self.stack.of_type("AWS::Logs::LogGroup").values())
        logs = self.aws("logs")
        found: list[Outcome] = []
        retention: dict[str, int | None] = {}
        for name in groups:
            answer = logs.describe_log_groups(logGroupNamePrefix=name)
            match = next(
                (g for g in answer.get("logGroups", []) if g["logGroupName"] == name), None
            )
            if match is None:
                found.append(fail(f"the log group {name} does not exist", self._fix("log", name)))
                continue
            retention[name] = match.get("retentionInDays")
            if not retention[name]:
                found.append(
                    fail(
                        f"the log group {name} keeps logs forever (no retention)",
                        f"aws logs put-retention-policy --log-group-name {name} "
                        "--retention-in-days 30 (the template sets LogRetentionDays: redeploy)",
                    )
                )
        for logical, config in self.configurations.items():
            group = (
                ((config.get("LoggingConfig") or {}).get("LogGroup"))
                if "error" not in config
                else None
            )
            if group is not None and group not in groups:
                found.append(
                    fail(f"{logical} logs to {group}, a group the stack does not manage", DEPLOY)
                )
        if not groups:
            found.append(fail("the stack has no log groups", DEPLOY))
        if not found:
            days = sorted({d for d in retention.values() if d})
            found.append(
                ok(
                    f"{len(groups)} log groups, every function logging to its own, kept "
                    f"{', '.join(map(str, days))} days"
                )
            )
        return found

    def backups(self) -> list[Outcome]:
        return [self._database_backups(), *self._table_backups()]

    def _database_backups(self) -> Outcome:
        rds = self.aws("rds")
        env = self.environment("ProcessorFunction") or self.environment("AdminFunction")
        secret_arn = env.get("DB_SECRET_ARN")
        instance_arn = cluster_arn = None
        if secret_arn:
            try:
                tags = (
                    self.aws("secretsmanager").describe_secret(SecretId=secret_arn).get("Tags")
                    or []
                )
            except Exception:
                tags = []
            by_key = {t["Key"]: t["Value"] for t in tags}
            instance_arn = by_key.get("aws:rds:primaryDBInstanceArn")
            cluster_arn = by_key.get("aws:rds:primaryDBClusterArn")
        host = env.get("DB_HOST")
        if not host and secret_arn and not (instance_arn or cluster_arn):
            raw = self.secret_value(secret_arn)
            try:
                host = json.loads(raw or "{}").get("host")
            except ValueError:
                host = None
        for page in rds.get_paginator("describe_db_instances").paginate():
            for db in page["DBInstances"]:
                address = (db.get("Endpoint") or {}).get("Address")
                if db["DBInstanceArn"] == instance_arn or (host and address == host):
                    if db.get("DBClusterIdentifier"):
                        cluster_arn = cluster_arn or db["DBClusterIdentifier"]
                        break
                    return self._retention(
                        "instance", db["DBInstanceIdentifier"], db["BackupRetentionPeriod"]
                    )
        for page in rds.get_paginator("describe_db_clusters").paginate():
            for cluster in page["DBClusters"]:
                ids = (cluster["DBClusterArn"], cluster["DBClusterIdentifier"])
                if cluster_arn in ids or (
                    host and host in (cluster.get("Endpoint"), cluster.get("ReaderEndpoint"))
                ):
                    return self._retention(
                        "cluster", cluster["DBClusterIdentifier"], cluster["BackupRetentionPeriod"]
                    )
        return warn(
            "the database behind the stack is not an RDS instance or cluster these credentials "
            f"can see (host {host or 'unknown'})",
            "check its backups by hand: automated backups with point-in-time restore",
        )

    def _retention(self, kind: str, name: str, days: int) -> Outcome:
        if days and days > 0:
            return ok(
                f"RDS {kind} {name}: automated backups kept {days} days (point-in-time restore)"
            )
        option = "--db-cluster-identifier" if kind == "cluster" else "--db-instance-identifier"
        return fail(
            f"RDS {kind} {name} has automated backups off (retention 0)",
            f"aws rds modify-db-{kind} {option} {name} --backup-retention-period 7 "
            "--apply-immediately",
        )

    def _table_backups(self) -> list[Outcome]:
        found = []
        dynamodb = self.aws("dynamodb")
        for logical, name in sorted(self.stack.of_type("AWS::DynamoDB::Table").items()):
            why_not = TABLE_BACKUPS.get(logical)
            if why_not:
                found.append(ok(f"{logical}: no point-in-time recovery, by design ({why_not})"))
                continue
            try:
                described = dynamodb.describe_continuous_backups(TableName=name)
            except Exception as exc:
                found.append(
                    fail(
                        f"{logical} ({name}) cannot be read ({_code(exc)})",
                        self._fix("table", name),
                    )
                )
                continue
            status = (
                described["ContinuousBackupsDescription"]
                .get("PointInTimeRecoveryDescription", {})
                .get("PointInTimeRecoveryStatus")
            )
            if status == "ENABLED":
                found.append(ok(f"{logical}: point-in-time recovery on"))
            else:
                found.append(
                    fail(
                        f"{logical} ({name}): point-in-time recovery is off",
                        f"aws dynamodb update-continuous-backups --table-name {name} "
                        "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true",
                    )
                )
        return found

    def throttling(self) -> list[Outcome]:
        found: list[Outcome] = []
        api_id = self.stack.physical("HttpApi")
        if not api_id:
            found.append(fail("the stack has no HTTP API", DEPLOY))
        else:
            try:
                stage = self.aws("apigatewayv2").get_stage(ApiId=api_id, StageName="$default")
            except Exception as exc:
                stage = {}
                found.append(
                    fail(f"the HTTP API's $default stage cannot be read ({_code(exc)})", DEPLOY)
                )
            default = stage.get("DefaultRouteSettings") or {}
            if stage and not (
                default.get("ThrottlingRateLimit") and default.get("ThrottlingBurstLimit")
            ):
                found.append(
                    fail(
                        "the HTTP API has no default throttling",
                        "set ApiThrottleRatePerSecond and ApiThrottleBurst and deploy",
                    )
                )
            elif stage:
                webhook = (stage.get("RouteSettings") or {}).get("POST /webhook") or {}
                found.append(
                    ok(
                        f"HTTP API throttled at {default['ThrottlingRateLimit']}/s (burst "
                        f"{default['ThrottlingBurstLimit']}); POST /webhook at "
                        f"{webhook.get('ThrottlingRateLimit', 'the default')}/s"
                    )
                )
        env = self.environment("ProcessorFunction")
        if env.get("RATE_LIMIT_TABLE"):
            found.append(
                ok(
                    f"per-customer limit: {env.get('CUSTOMER_RATE_LIMIT', '10')} messages per "
                    f"{env.get('CUSTOMER_RATE_WINDOW_S', '60')} s"
                )
            )
        else:
            found.append(
                fail("the processor has no per-customer throttle (RATE_LIMIT_TABLE)", DEPLOY)
            )
        mappings = self.stack.of_type("AWS::Lambda::EventSourceMapping")
        for logical, uuid_ in mappings.items():
            try:
                mapping = self.aws("lambda").get_event_source_mapping(UUID=uuid_)
            except Exception as exc:
                found.append(fail(f"{logical} cannot be read ({_code(exc)})", DEPLOY))
                continue
            limit = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
            if limit:
                found.append(ok(f"the queue drives at most {limit} processor instances"))
            else:
                found.append(
                    fail(
                        f"{logical}: the queue may drive unbounded processor instances",
                        "set ProcessorMaxConcurrency and deploy (it bounds PostgreSQL connections)",
                    )
                )
        return found

    def error_handling(self) -> list[Outcome]:
        queue = self.stack.physical("InboundQueue")
        dlq = self.stack.physical("DeadLetterQueue")
        if not queue or not dlq:
            return [fail("the stack lacks its inbound or dead-letter queue", DEPLOY)]
        sqs = self.aws("sqs")
        try:
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])[
                "Attributes"
            ]
            depth = int(
                sqs.get_queue_attributes(
                    QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
        except Exception as exc:
            return [fail(f"the queues cannot be read ({_code(exc)})", self._fix("queue", queue))]
        policy = json.loads(attributes.get("RedrivePolicy") or "{}")
        if not policy.get("deadLetterTargetArn"):
            return [
                fail("the inbound queue has no redrive policy to the dead-letter queue", DEPLOY)
            ]
        if depth:
            return [
                warn(
                    f"{depth} message(s) in the dead-letter queue: they failed "
                    f"{policy.get('maxReceiveCount')} times",
                    "read the processor's logs for them; once fixed, redrive the DLQ from the "
                    "SQS console (DeadLetterAlarm stays in ALARM until then)",
                )
            ]
        return [
            ok(
                f"failed messages go to the dead-letter queue after "
                f"{policy.get('maxReceiveCount')} receives, and it is empty; failure handling "
                "is tested by `make test` (tests/integration/faults)"
            )
        ]

    def ai_switch(self) -> list[Outcome]:
        problem = self.admin_problem()
        if problem:
            return [problem]
        return switch_outcomes(self.facts["switches"], cli=f" --function {self.admin_function}")
