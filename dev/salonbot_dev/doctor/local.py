"""`salonbot doctor --local`: the checklist against the stack `make dev` runs, through
what it wrote to `.local/stack.json` (its addresses, the handlers' settings with secrets
masked): its PostgreSQL, its AWS endpoint (moto), its gateway, its fake WhatsApp.

What exists only in AWS (a Meta app's subscription, CloudWatch alarms and log groups,
backups, API Gateway throttling) is reported as not checkable locally, with why."""

from __future__ import annotations

import time
import uuid
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
    from pathlib import Path

    from salonbot.db.connection import Connection
    from salonbot_dev.fakes.customer import CustomerPhone
    from salonbot_dev.local.state import StackAddresses

RESTART = "restart the local stack (Ctrl-C, then `make dev`): it creates the template's resources"
MIGRATE = "salonbot migrate"
RESTORE = "start from a fresh local database: stop the stack, delete .local/pgdata, `make dev`"
KEY_WHERE = "OPENAI_API_KEY (export it, then restart `make dev`)"
# How long the test message may take from webhook to reply.
REPLY_TIMEOUT_S = 30.0


@dataclass
class LocalDoctor:
    addresses: StackAddresses
    salon_id: str | None = None  # the salon the test message goes to
    state_dir: Path | None = None  # the stack's folder (its token issuer's key)
    reply_timeout_s: float = REPLY_TIMEOUT_S
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return f"local stack at {self.addresses.gateway_url} (pid {self.addresses.pid})"

    # -- plumbing -----------------------------------------------------------------------
    def connect(self) -> Connection:
        from salonbot.config import Settings
        from salonbot.db.connection import connect

        return connect(self.addresses.database_url, Settings(db_connect_timeout_s=5))

    def aws(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            from salonbot_dev.local.moto_server import FAKE_CREDENTIALS

            # Explicit fake credentials: nothing here may ever reach real AWS.
            self._clients[service] = boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.addresses.aws_endpoint_url,
                region_name=self.addresses.region,
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
                config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1}),
            )
        return self._clients[service]

    @property
    def environment(self) -> dict[str, str]:
        """The handlers' settings, as the stack recorded them."""
        return self.addresses.settings

    @cached_property
    def health_answer(self) -> HttpAnswer:
        return http(self.addresses.gateway_url + HEALTH_PATH)

    # -- the checklist --------------------------------------------------------------------
    def database(self) -> list[Outcome]:
        from salonbot.db.migrate import schema_status

        try:
            conn = self.connect()
        except Exception as exc:
            return [
                fail(
                    f"PostgreSQL at the stack's DATABASE_URL does not answer "
                    f"({type(exc).__name__})",
                    RESTART,
                )
            ]
        with conn:
            status = schema_status(conn)
            conn.rollback()
        return schema_outcomes(status.__dict__, migrate=MIGRATE, restore=RESTORE)

    def openai(self) -> list[Outcome]:
        return openai_outcomes(self.health_answer, where_key=KEY_WHERE)

    def settings(self) -> list[Outcome]:
        if not self.environment:
            return [
                fail(
                    "the running stack did not record its settings in .local/stack.json",
                    "restart it with this version (`make dev`)",
                )
            ]
        found: list[Outcome] = []
        names: list[str] = []
        for required in REQUIRED_SETTINGS:
            present = first_set(self.environment, required.names)
            if present is None:
                found.append(
                    fail(
                        f"{' or '.join(required.names)} ({required.what}) is not set for "
                        f"{', '.join(required.functions)}",
                        RESTART,
                    )
                )
                continue
            names.append(present[0])
            problem = self._resource_problem(required.kind, present[1])
            if problem:
                found.append(fail(f"{present[0]} ({required.what}): {problem}", RESTART))
        if not found:
            found.append(ok(f"set, and what they name exists: {', '.join(names)}"))
        return found

    def _resource_problem(self, kind: str, value: str) -> str | None:
        """Why the resource a setting names is not usable; None when it is."""
        try:
            if kind == "queue":
                self.aws("sqs").get_queue_attributes(QueueUrl=value, AttributeNames=["QueueArn"])
            elif kind == "table":
                self.aws("dynamodb").describe_table(TableName=value)
            elif kind == "topic":
                self.aws("sns").get_topic_attributes(TopicArn=value)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            what = {"queue": "queue", "table": "table", "topic": "topic"}[kind]
            return f"the {what} {value} does not exist on the stack's AWS endpoint ({code})"
        return None

    def health(self) -> list[Outcome]:
        return health_outcomes(
            self.health_answer,
            self.addresses.gateway_url + HEALTH_PATH,
            unreachable_fix="the local gateway does not answer: is `make dev` still running? "
            "See its output",
        )

    def test_message(self) -> list[Outcome]:
        """A greeting from the sandbox customer, signed like Meta's, to the salon's number:
        webhook, queue, processor, reply at the fake WhatsApp send API; then everything it
        left (conversation, messages, ledger, client) is deleted and no booking remains."""
        from salonbot.conversation.sandbox import SANDBOX_PHONE, clear_sandbox
        from salonbot_dev.fakes.customer import CustomerPhone

        try:
            conn = self.connect()
        except Exception as exc:
            return [fail(f"PostgreSQL does not answer ({type(exc).__name__})", RESTART)]
        with conn:
            from salonbot.db.migrate import schema_status

            if not schema_status(conn).current:
                conn.rollback()
                return [
                    fail(
                        "not sent: the database schema is incomplete",
                        "fix the database first (see database)",
                    )
                ]
            salon = self._salon(conn)
            if salon is None:
                return [
                    fail(
                        "no salon with a WhatsApp number to send the test message to",
                        "import one: `salonbot salon import demo/salon.yaml`",
                    )
                ]
            clear_sandbox(conn, salon["id"])  # what an interrupted earlier run left
            conn.commit()
            forget_sandbox_count(self.aws("dynamodb"), self.environment, str(salon["id"]))
            phone = CustomerPhone(
                self.addresses.gateway_url,
                self.addresses.app_secret,
                salon["whatsapp_phone_number_id"],
                SANDBOX_PHONE,
                name="salonbot doctor",
            )
            payload = phone.text_payload(SANDBOX_TEXT)
            wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            try:
                webhook = self._through_webhook(conn, phone, payload, wamid, salon)
                api = self._through_api(salon)
            finally:
                cleared = clear_sandbox(conn, salon["id"])
                conn.commit()
            left = conn.execute(
                "SELECT count(*) AS n FROM bookings b JOIN clients c ON c.id = b.client_id "
                "WHERE c.phone = %s",
                (SANDBOX_PHONE,),
            ).fetchone()
            conn.rollback()
        if left and left["n"]:
            return [
                fail(
                    "the sandbox customer still has bookings after the clean-up",
                    f"delete the bookings of the client {SANDBOX_PHONE} in the local database",
                )
            ]
        if cleared.bookings:
            webhook = Outcome(
                webhook.status, webhook.detail + "; a booking it made was deleted", webhook.fix
            )
        return [webhook, api]

    def _through_webhook(
        self,
        conn: Connection,
        phone: CustomerPhone,
        payload: dict[str, Any],
        wamid: str,
        salon: dict[str, Any],
    ) -> Outcome:
        try:
            status = phone.post(payload)
        except OSError as exc:
            return fail(
                f"the webhook got no answer ({type(exc).__name__})",
                "the local gateway does not answer: is `make dev` still running?",
            )
        if not 200 <= status < 300:
            return fail(
                f"POST /webhook with a signed sandbox message answered HTTP {status}",
                "read the stack's output: the webhook could not enqueue "
                "(queue or dedupe table missing?) or refused the signature",
            )
        processed = self._wait_for_ledger(conn, wamid)
        return self._test_outcome(salon, processed, self._answer(conn, salon["id"]))

    def _through_api(self, salon: dict[str, Any]) -> Outcome:
        """The deployment guide's test request: `POST /api/v1/ai/process-message`, with a
        token the local issuer signs (as `salonbot token` does)."""
        from salonbot.conversation.sandbox import SANDBOX_PHONE
        from salonbot_dev.cli.tokens import local_token

        if self.state_dir is None:
            return skip("process-message: not checkable: the stack's state folder is unknown")
        token = local_token(
            self.state_dir, [salon["id"]], ["ai:write"], expires_in_s=300, subject="salonbot-doctor"
        )
        url = self.addresses.gateway_url + PROCESS_MESSAGE_PATH
        answer = http(
            url,
            method="POST",
            body={
                "salon_id": str(salon["id"]),
                "phone_number": SANDBOX_PHONE,
                "message": SANDBOX_TEXT,
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout_s=self.reply_timeout_s,
        )
        body = answer.json()
        if answer.status != 200 or not isinstance(body, dict):
            got = answer.error or f"HTTP {answer.status}: {(body or {}).get('message')}"
            return fail(
                f"POST {PROCESS_MESSAGE_PATH} as the sandbox customer failed ({got})",
                "read the stack's output; a 401 or 403: the local token issuer "
                "(.local/api-signing-key.pem) and the gateway disagree, restart `make dev`",
            )
        by = body.get("model") or (
            "its staff" if body.get("handled_by") == "staff" else "the guided flow (no model)"
        )
        return ok(
            f"POST {PROCESS_MESSAGE_PATH} with a locally signed token (scope ai:write) was "
            f"answered by {by} in {body.get('response_time_ms')} ms"
        )

    def _test_outcome(
        self,
        salon: dict[str, Any],
        processed: dict[str, Any] | None,
        answer: dict[str, Any] | None,
    ) -> Outcome:
        name = salon["name"]
        if processed is None:
            return fail(
                f"the sandbox message to {name} was acknowledged but not processed within "
                f"{self.reply_timeout_s:g} s",
                "read the stack's output: the queue poller or the processor failed",
            )
        state = processed["reply_status"]
        if state == "failed":
            return fail(
                f"{name} answered, but the reply could not be sent: {processed['reply_error']}",
                "the WhatsApp send API refused it: check WHATSAPP_API_BASE_URL and the token",
            )
        if state == "none":
            return ok(
                f"processed; {name} has AI off, so the message was left for its staff "
                "(sandbox conversation deleted, no booking left)"
            )
        by = (answer or {}).get("model") or "the guided flow (no model)"
        return ok(
            f"a sandbox greeting to {name} went webhook → queue → processor → WhatsApp and "
            f"was answered by {by}; its conversation was deleted, no booking left"
        )

    def _salon(self, conn: Connection) -> dict[str, Any] | None:
        wanted = self.salon_id or self.addresses.demo_salon_id
        if wanted:
            try:
                uuid.UUID(wanted)
            except ValueError:
                return None
            row = conn.execute(
                "SELECT id, name, whatsapp_phone_number_id FROM salons WHERE id = %s "
                "AND whatsapp_phone_number_id IS NOT NULL",
                (wanted,),
            ).fetchone()
            if row is not None or self.salon_id:
                return row
        return conn.execute(
            "SELECT id, name, whatsapp_phone_number_id FROM salons "
            "WHERE whatsapp_phone_number_id IS NOT NULL ORDER BY name LIMIT 1"
        ).fetchone()

    def _wait_for_ledger(self, conn: Connection, wamid: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.reply_timeout_s
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT reply_status, reply_error FROM inbound_messages WHERE message_id = %s",
                (wamid,),
            ).fetchone()
            conn.rollback()
            if row is not None and row["reply_status"] != "pending":
                return row
            time.sleep(0.1)
        return None

    def _answer(self, conn: Connection, salon_id: uuid.UUID) -> dict[str, Any] | None:
        from salonbot.conversation.sandbox import SANDBOX_PHONE

        row = conn.execute(
            "SELECT m.model FROM ai_messages m JOIN ai_conversations c ON c.id = m.conversation_id "
            "WHERE c.salon_id = %s AND c.phone_number = %s AND m.role = 'assistant' "
            "ORDER BY m.id DESC LIMIT 1",
            (salon_id, SANDBOX_PHONE),
        ).fetchone()
        conn.rollback()
        return row

    def webhook(self) -> list[Outcome]:
        return [
            verify_handshake(self.addresses.gateway_url, self.addresses.verify_token),
            skip(
                "the app's webhook subscription: not checkable locally: there is no Meta app "
                "(local messages come from `salonbot chat`, signed with the local app secret)"
            ),
        ]

    def cost_monitoring(self) -> list[Outcome]:
        found = []
        for name, what in (("COST_TABLE", "cost guard table"), ("ALERT_TOPIC_ARN", "alert topic")):
            value = self.environment.get(name)
            kind = "table" if name == "COST_TABLE" else "topic"
            problem = "not set" if not value else self._resource_problem(kind, value)
            if problem:
                found.append(fail(f"{name} ({what}): {problem}", RESTART))
        if not found:
            found.append(
                ok(
                    "the cost guard's table and the alert topic exist; budget alerts run "
                    "every 15 min in the stack (`salonbot run budget-alert` runs one now)"
                )
            )
        found.append(
            skip(
                "the DailyCostAlarm: not checkable locally: the local stack creates no "
                "CloudWatch alarms"
            )
        )
        return found

    def alarms(self) -> list[Outcome]:
        return [
            skip(
                "not checkable locally: the local stack creates no CloudWatch alarms and no "
                "subscriptions (the template's alarms exist only in AWS: `salonbot doctor "
                "--stack NAME`)"
            )
        ]

    def logging(self) -> list[Outcome]:
        return [
            skip(
                "not checkable locally: the handlers log to the stack's terminal, there are "
                "no log groups (`LOG_LEVEL=INFO make dev` shows the JSON lines)"
            )
        ]

    def backups(self) -> list[Outcome]:
        return [
            skip(
                "not checkable locally: the embedded PostgreSQL (.local/pgdata) and moto's "
                "tables are throwaway data with no backups; in AWS: RDS backup retention and "
                "point-in-time recovery on the cost table"
            )
        ]

    def throttling(self) -> list[Outcome]:
        table = self.environment.get("RATE_LIMIT_TABLE")
        problem = "not set" if not table else self._resource_problem("table", table)
        limit = self.environment.get("CUSTOMER_RATE_LIMIT", "10")
        window = self.environment.get("CUSTOMER_RATE_WINDOW_S", "60")
        first = (
            fail(f"RATE_LIMIT_TABLE (per-customer throttle): {problem}", RESTART)
            if problem
            else ok(f"per-customer limit on: {limit} messages per {window} s (table {table})")
        )
        return [
            first,
            skip(
                "HTTP API throttling (ApiThrottle*, WebhookThrottle*): not checkable locally: "
                "the local gateway does not throttle"
            ),
        ]

    def error_handling(self) -> list[Outcome]:
        import json

        queue = self.environment.get("QUEUE_URL")
        if not queue:
            return [fail("QUEUE_URL is not set", RESTART)]
        sqs = self.aws("sqs")
        try:
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])[
                "Attributes"
            ]
        except Exception as exc:
            return [fail(f"the inbound queue cannot be read ({type(exc).__name__})", RESTART)]
        policy = json.loads(attributes.get("RedrivePolicy") or "{}")
        if not policy.get("deadLetterTargetArn"):
            return [fail("the inbound queue has no dead-letter queue (RedrivePolicy)", RESTART)]
        dlq_name = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
        try:
            dlq = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
            depth = int(
                sqs.get_queue_attributes(
                    QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
        except Exception as exc:
            return [
                fail(f"the dead-letter queue {dlq_name} is missing ({type(exc).__name__})", RESTART)
            ]
        note = "failure handling itself is tested by `make test` (tests/integration/faults)"
        if depth:
            return [
                warn(
                    f"{depth} message(s) in the dead-letter queue {dlq_name}: they failed "
                    f"{policy.get('maxReceiveCount')} times",
                    "read the stack's output for their message ids; fix, then send them again",
                )
            ]
        return [
            ok(
                f"failed messages go to {dlq_name} after {policy.get('maxReceiveCount')} "
                f"receives, and it is empty; {note}"
            )
        ]

    def ai_switch(self) -> list[Outcome]:
        from salonbot.assistant.switch import read_switches

        with self.connect() as conn:
            try:
                states = [s.as_dict() for s in read_switches(conn)]
            except Exception as exc:
                return [fail(f"the kill switch cannot be read ({type(exc).__name__})", MIGRATE)]
            finally:
                conn.rollback()
        return switch_outcomes(states, cli="")
