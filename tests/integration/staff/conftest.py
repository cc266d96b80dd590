"""StaffFunction tests: the handler loaded from `functions/staff/app.py`, invoked with the
HTTP API events API Gateway passes after its Cognito authorizer (the claims a staff
access token carries), against a real PostgreSQL with the demo salon and another tenant,
and the fake WhatsApp send API on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from salonbot.booking.catalog import load_salon
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import get_settings
from salonbot.conversation.handoff import start as start_handoff
from salonbot.conversation.store import (
    NewMessage,
    append_messages,
    open_conversation,
)
from salonbot.db.connection import Connection, reset_connection
from salonbot.observability import metrics
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID, REPO_ROOT
from tests.integration.salon_builder import BERLIN_SALON_ID, berlin_salon

POOL_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_staffpool"
CLIENT_ID = "console-client-id"


@dataclass
class FakeContext:
    function_name: str = "salonbot-staff"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:salonbot-staff"
    aws_request_id: str = "0b7c2f7e-4c1d-4a53-9a7e-1f0d2c3b4a51"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def staff_claims(
    *salons: uuid.UUID, owner: bool = False, email: str = "anna@example.com"
) -> dict[str, str]:
    """A staff access token's claims as API Gateway passes them (lists as "[a b]")."""
    groups = [f"salon:{s}" for s in salons] + (["owner"] if owner else [])
    return {
        "iss": POOL_ISSUER,
        "client_id": CLIENT_ID,
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, email)),
        "username": email,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "cognito:groups": "[" + " ".join(groups) + "]",
        "iat": "1773140400",
        "exp": "1773147600",
    }


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def _load_handler() -> Any:
    path = REPO_ROOT / "functions" / "staff" / "app.py"
    spec = importlib.util.spec_from_file_location("handler_staff", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


class StaffApi:
    def __init__(self) -> None:
        self.handler = _load_handler()

    def event(
        self,
        method: str,
        path: str,
        *,
        claims: dict[str, str] | None,
        body: Any = None,
        query: dict[str, str] | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        headers = {
            "content-type": "application/json",
            "host": "abc.execute-api.eu-west-1.amazonaws.com",
        }
        if key is not None:
            headers["idempotency-key"] = key
        context: dict[str, Any] = {
            "accountId": "123456789012",
            "apiId": "abc",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": f"{method} /api/v1/staff/{{route+}}",
            "stage": "$default",
            "timeEpoch": 1773144000000,
        }
        if claims is not None:
            context["authorizer"] = {
                "jwt": {"claims": claims, "scopes": ["aws.cognito.signin.user.admin"]}
            }
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": context["routeKey"],
            "rawPath": path,
            "rawQueryString": urlencode(query or {}),
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = query
        if body is not None:
            event["body"] = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        return event

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        result = self.handler(self.event(method, path, **kwargs), FakeContext())
        text = result.get("body") or ""
        content_type = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        return Reply(
            result["statusCode"],
            content_type,
            json.loads(text) if text and "json" in content_type.get("content-type", "") else text,
        )


@pytest.fixture
def fake_whatsapp() -> Iterator[FakeWhatsApp]:
    fake = start_fake_whatsapp(out=None)
    yield fake
    fake.stop()


@pytest.fixture
def staff_api(
    monkeypatch: pytest.MonkeyPatch, database_url: str, db: Connection, fake_whatsapp: FakeWhatsApp
) -> Iterator[StaffApi]:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AWS_ENDPOINT_URL",
        "WHATSAPP_ACCESS_TOKEN_SECRET_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", fake_whatsapp.url)
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "test-access-token")
    monkeypatch.setenv("WHATSAPP_MAX_RETRIES", "0")
    monkeypatch.setenv("HANDOFF_MINUTES", "180")

    def reset() -> None:
        get_settings.cache_clear()
        reset_connection()
        metrics.clear_metrics()

    reset()
    yield StaffApi()
    reset()


@pytest.fixture
def salons(db: Connection) -> tuple[uuid.UUID, uuid.UUID]:
    """The demo salon and another tenant."""
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    berlin_salon(db)
    db.commit()
    return DEMO_SALON_ID, BERLIN_SALON_ID


def customer_conversation(
    db: Connection,
    salon_id: uuid.UUID,
    phone: str,
    text: str,
    *,
    at: dt.datetime | None = None,
    handed_off: bool = False,
) -> str:
    """A customer's conversation whose last message is theirs (sent `at`, WhatsApp's time,
    which opens the 24-hour window as the processor records it)."""
    inbound_at = at or dt.datetime.now(dt.UTC)
    conversation = open_conversation(db, salon_id, phone.lstrip("+"), inbound_at=inbound_at)
    append_messages(db, conversation, [NewMessage(role="user", content=text)])
    if at is not None:
        db.execute(
            "UPDATE ai_messages SET created_at = %s WHERE conversation_id = %s",
            (at, conversation.id),
        )
        db.execute(
            "UPDATE ai_conversations SET last_message_at = %s WHERE id = %s", (at, conversation.id)
        )
    if handed_off:
        start_handoff(db, conversation.id, until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    db.commit()
    return conversation.id


def seed_booking(
    db: Connection,
    salon_id: uuid.UUID,
    *,
    starts_at: dt.datetime,
    phone: str = "+79001110022",
    service: str = "manicure",
    master: str = "anna",
    code: str = "SEED01",
) -> str:
    """A confirmed booking written directly (a past or imminent one the rules would not
    take now), for marking it arrived or not come."""
    salon = load_salon(db, salon_id)
    svc, mst = salon.service(service), salon.master(master)
    client = db.execute(
        "INSERT INTO clients (salon_id, phone) VALUES (%s, %s) "
        "ON CONFLICT (salon_id, phone) DO UPDATE SET phone = EXCLUDED.phone RETURNING id",
        (salon_id, phone),
    ).fetchone()
    assert client is not None
    ends = starts_at + dt.timedelta(minutes=svc.duration_minutes)
    db.execute(
        "INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, starts_at, "
        "ends_at, blocked_until, price) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (code, salon_id, mst.id, svc.id, client["id"], starts_at, ends, ends, svc.price),
    )
    db.commit()
    return code
