"""`salonbot doctor --stack NAME`: the checklist against a deployed stack, read with boto3
and your AWS credentials. CloudFormation names the stack's resources (outputs and
physical ids); each check then asks the service that owns the resource. What only the
database can say (schema, salons, the kill switch) comes from the stack's AdminFunction,
which runs inside the VPC, as `salonbot migrate --function` does.

The test message goes through the AI API (`POST /api/v1/ai/process-message`, which needs
a JWT: `--api-token`), not through WhatsApp, so no real phone is written to; the sandbox
conversation is deleted afterwards through AdminFunction (`clear_sandbox`).

This module holds `StackDoctor`, one method per checklist item, and the checks of what
serves customers (database, settings, health, the test message, the webhook, the AI
switch). The operations checks live in `aws_operations.py`, the backups check in
`aws_backups.py`, and reading the stack in `aws_stack.py`."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from salonbot_dev.doctor import Outcome, aws_backups, aws_operations, fail, ok, skip
from salonbot_dev.doctor.aws_stack import DEPLOY, StackResources, error_code, read_stack
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
DEFAULT_GRAPH_URL = "https://graph.facebook.com/v21.0"


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
                found[logical] = {"error": error_code(exc)}
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
                            self.fix(required.kind, present[1]),
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
            return f"{value} does not exist or cannot be read ({error_code(exc)})"
        return None

    def fix(self, kind: str, value: str) -> str:
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
        return aws_operations.cost_monitoring(self)

    def alarms(self) -> list[Outcome]:
        return aws_operations.alarms(self)

    def logging(self) -> list[Outcome]:
        return aws_operations.logging(self)

    def backups(self) -> list[Outcome]:
        return aws_backups.backups(self)

    def throttling(self) -> list[Outcome]:
        return aws_operations.throttling(self)

    def error_handling(self) -> list[Outcome]:
        return aws_operations.error_handling(self)

    def ai_switch(self) -> list[Outcome]:
        problem = self.admin_problem()
        if problem:
            return [problem]
        return switch_outcomes(self.facts["switches"], cli=f" --function {self.admin_function}")
