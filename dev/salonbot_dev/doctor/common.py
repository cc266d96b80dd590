"""What the local and the AWS doctor check the same way: HTTP calls, the schema, the
health document, the kill switch, and the settings every function needs."""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from salonbot_dev.doctor import Outcome, fail, ok, warn

HEALTH_PATH = "/api/v1/ai/health"
PROCESS_MESSAGE_PATH = "/api/v1/ai/process-message"
HTTP_TIMEOUT_S = 10.0
# What the sandbox customer says: a greeting, which books nothing.
SANDBOX_TEXT = "Здравствуйте"


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None  # None: no answer at all
    body: bytes = b""
    error: str | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def http(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = HTTP_TIMEOUT_S,
) -> HttpAnswer:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers |= headers or {}
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return HttpAnswer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, exc.read())
    except (OSError, ValueError) as exc:  # refused, timed out, no such host
        reason = getattr(exc, "reason", None) or exc
        return HttpAnswer(None, error=f"{type(exc).__name__}: {reason}")


# -- database -----------------------------------------------------------------------------


def schema_outcomes(schema: dict[str, list[str]], *, migrate: str, restore: str) -> list[Outcome]:
    """`schema`: applied, pending, unknown, missing_tables (`salonbot.db.migrate`)."""
    pending, missing = schema["pending"], schema["missing_tables"]
    found: list[Outcome] = []
    if pending:
        found.append(
            fail(f"migrations not applied: {', '.join(pending)}", f"apply them: `{migrate}`")
        )
    if missing:
        found.append(
            fail(
                f"tables missing: {', '.join(missing)}",
                f"apply the migrations: `{migrate}`"
                if pending
                else f"their migrations are recorded as applied, so they were removed by hand: "
                f"{restore}",
            )
        )
    if schema["unknown"]:
        found.append(
            warn(
                f"the database has migrations this code does not know: "
                f"{', '.join(schema['unknown'])} (a newer release ran)",
                "deploy that release, or this one knowingly: it serves on the newer schema",
            )
        )
    if not found:
        found.append(
            ok(
                f"{len(schema['applied'])} migrations applied, none pending; the AI tables "
                "(ai_conversations, ai_messages, ai_switch) and the booking tables are there"
            )
        )
    return found


# -- health and the model -------------------------------------------------------------------


def health_outcomes(answer: HttpAnswer, url: str, *, unreachable_fix: str) -> list[Outcome]:
    if answer.status is None:
        return [fail(f"GET {url} got no answer ({answer.error})", unreachable_fix)]
    doc = answer.json()
    if not isinstance(doc, dict) or doc.get("service") != "ai":
        return [
            fail(
                f"GET {url} answered HTTP {answer.status} without the health document",
                "check that the URL is the stack's API (output ApiUrl) and the route "
                "GET /api/v1/ai/health reaches ApiFunction",
            )
        ]
    if answer.status != 200 or doc.get("status") != "ok":
        return [
            fail(
                f"GET {url}: HTTP {answer.status}, status {doc.get('status')}, "
                f"database {doc.get('database')}",
                "the API cannot reach PostgreSQL: check the database is up, the function's "
                "VPC and security groups, and the database secret",
            )
        ]
    return [ok(f"GET {url}: HTTP 200, status ok, database ok")]


def openai_outcomes(answer: HttpAnswer, *, where_key: str) -> list[Outcome]:
    """The model check is the health route's own (`GET /models` with the functions' key,
    from inside the stack): the doctor never holds the key itself."""
    doc = answer.json()
    if not isinstance(doc, dict) or "openai" not in doc:
        from salonbot_dev.doctor import skip

        return [skip("not checkable: the health route did not answer (see health)")]
    state, detail = doc["openai"], doc.get("detail") or ""
    if state == "connected":
        return [ok(f"the model API accepted the key (GET /models); model {doc.get('model')}")]
    if state == "not_configured":
        return [
            warn(
                "not configured: guided flow only (customers book without the model)",
                f"to answer with the model, set the key: {where_key}",
            )
        ]
    if "401" in detail:
        fix = f"the key was rejected: put a valid key in {where_key}"
    elif "unreachable" in detail or "did not answer" in detail:
        fix = (
            "the functions cannot reach the model API: check OPENAI_BASE_URL "
            "(parameter OpenAiBaseUrl) and, in a VPC, the NAT gateway"
        )
    elif "secret" in detail:
        fix = "the functions cannot read the key's secret: check it exists, has a value, and "
        fix += "that the stack's OpenAiApiKeySecretArn names it"
    else:
        fix = "check the model API's status (https://status.openai.com) and the key's quota"
    return [fail(f"the model API check failed: {detail or state}", fix)]


# -- the kill switch ------------------------------------------------------------------------


def switch_outcomes(switches: list[dict[str, Any]], *, cli: str) -> list[Outcome]:
    off = [s for s in switches if s["off"]]
    if not off:
        return [ok("model calls on for every salon (`salonbot ai status`)")]
    found = []
    for s in off:
        scope = "--all" if s["scope"] == "*" else f"--salon {s['scope']}"
        who = "every salon" if s["scope"] == "*" else f"salon {s['scope']}"
        found.append(
            warn(
                f"model calls switched OFF for {who} since {s['changed_at']} by "
                f"{s['changed_by']}: its customers get the guided flow",
                f"when the incident is over: `salonbot ai on {scope}{cli}`",
            )
        )
    return found


def forget_sandbox_count(dynamodb: Any, environment: dict[str, str], salon_id: str) -> None:
    """Reset the sandbox customer's per-customer throttle window (best effort): doctor
    runs in a row must not throttle their own test messages."""
    from salonbot.assistant.throttle import CustomerThrottle
    from salonbot.conversation.sandbox import SANDBOX_PHONE

    table = environment.get("RATE_LIMIT_TABLE")
    if not table:
        return
    window = int(environment.get("CUSTOMER_RATE_WINDOW_S") or 60)
    # No such table (settings says so), no permission: the message is sent anyway.
    with contextlib.suppress(Exception):
        CustomerThrottle(table, window_s=window, client=dynamodb).forget(salon_id, SANDBOX_PHONE)


# -- webhook ----------------------------------------------------------------------------------


def verify_handshake(base_url: str, verify_token: str) -> Outcome:
    """What Meta does when the callback URL is saved: GET /webhook with the verify token
    and a challenge, which must come back as the body."""
    challenge = str(secrets.randbelow(10**9))
    query = urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
    )
    url = f"{base_url}/webhook"
    answer = http(f"{url}?{query}")
    if answer.status == 200 and answer.body.decode(errors="replace") == challenge:
        return ok(f"GET {url}: Meta's verification handshake answers with the challenge")
    got = answer.error or f"HTTP {answer.status}"
    return fail(
        f"GET {url} with the verify token did not echo the challenge ({got})",
        "the webhook function's verify token (WHATSAPP_VERIFY_TOKEN, parameter "
        "WhatsAppVerifyTokenSecretArn) must be the one entered in Meta's webhook settings",
    )


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Required:
    """A setting some functions cannot work without: one of `names` must be set."""

    names: tuple[str, ...]
    what: str
    functions: tuple[str, ...]  # logical ids in template.yaml
    kind: str = "value"  # "value", "secret", "queue", "table" or "topic": what it names
    parameter: str | None = None  # the stack parameter that sets it, when one does


_DATA = ("ApiFunction", "ProcessorFunction", "AdminFunction", "CleanupFunction")
REQUIRED_SETTINGS: tuple[Required, ...] = (
    Required(
        ("DATABASE_URL", "DB_SECRET_ARN"),
        "the database",
        (*_DATA, "BudgetAlertFunction"),
        "secret",
        "DatabaseSecretArn",
    ),
    Required(
        ("WHATSAPP_APP_SECRET", "WHATSAPP_APP_SECRET_ARN"),
        "the Meta app secret (webhook signatures)",
        ("WebhookFunction",),
        "secret",
        "WhatsAppAppSecretArn",
    ),
    Required(
        ("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_VERIFY_TOKEN_ARN"),
        "the webhook verify token",
        ("WebhookFunction",),
        "secret",
        "WhatsAppVerifyTokenSecretArn",
    ),
    Required(
        ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_ACCESS_TOKEN_SECRET_ARN"),
        "the WhatsApp Cloud API access token (replies)",
        ("ProcessorFunction",),
        "secret",
        "WhatsAppAccessTokenSecretArn",
    ),
    Required(("QUEUE_URL",), "the inbound queue", ("WebhookFunction",), "queue"),
    Required(("IDEMPOTENCY_TABLE",), "the webhook's dedupe table", ("WebhookFunction",), "table"),
    Required(
        ("COST_TABLE",),
        "the cost guard's table",
        ("ProcessorFunction", "ApiFunction", "BudgetAlertFunction"),
        "table",
    ),
    Required(
        ("RATE_LIMIT_TABLE",),
        "the per-customer throttle's table",
        ("ProcessorFunction", "ApiFunction"),
        "table",
    ),
    Required(
        ("STAFF_TOPIC_ARN",),
        "the staff topic (hand-offs)",
        ("ProcessorFunction", "ApiFunction"),
        "topic",
    ),
    Required(("ALERT_TOPIC_ARN",), "the alert topic", ("BudgetAlertFunction",), "topic"),
)


def first_set(environment: dict[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        if environment.get(name):
            return name, environment[name]
    return None
