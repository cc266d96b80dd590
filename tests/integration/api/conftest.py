"""ApiFunction tests: the handler loaded from `functions/api/app.py` and invoked in-process
with API Gateway HTTP API (payload 2.0) events, against a real PostgreSQL with the demo
salon, the fake model on 127.0.0.1 and DynamoDB in moto."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from salonbot.api import health as api_health
from salonbot.api import routes
from salonbot.config import get_settings
from salonbot.db.connection import Connection, reset_connection
from salonbot.observability import metrics
from tests.conftest import REPO_ROOT
from tests.fakes.openai_server import FakeOpenAI


@dataclass
class FakeContext:
    function_name: str = "salonbot-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:salonbot-api"
    aws_request_id: str = "6f1b6e3a-6a53-4b8e-9c55-3c1d0f9a2b10"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_api_handler() -> ModuleType:
    path = REPO_ROOT / "functions" / "api" / "app.py"
    spec = importlib.util.spec_from_file_location("handler_api", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO_ROOT / "events" / name).read_text())
    return data


# `claims=` of the calls below: keep the sample's authorizer context as it is.
SAMPLE: Any = object()


def with_claims(event: dict[str, Any], claims: dict[str, Any] | None) -> dict[str, Any]:
    """The event as API Gateway passes it for a token with these claims (values as
    strings, as API Gateway gives them); None: no authorizer context at all."""
    event = copy.deepcopy(event)
    if claims is None:
        event["requestContext"].pop("authorizer", None)
    else:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def token_claims(*salons: object, scope: str = "ai:write ai:read") -> dict[str, str]:
    """Claims of a backend's token for these salons (one: `salon_id`, several: the list
    `salon_ids` in API Gateway's `[a b]` form)."""
    claims = {
        "iss": "https://auth.example.com/",
        "aud": "salonbot-api",
        "sub": "salon-backend",
        "scope": scope,
        "iat": "1773140400",
        "exp": "1773147600",
    }
    if len(salons) == 1:
        claims["salon_id"] = str(salons[0])
    elif salons:
        claims["salon_ids"] = "[" + " ".join(str(s) for s in salons) + "]"
    return claims


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Api:
    """Calls the Lambda handler with events built from the sample files."""

    def __init__(self) -> None:
        self.handler = load_api_handler().lambda_handler

    def invoke(self, event: dict[str, Any]) -> Reply:
        result = self.handler(event, FakeContext())
        body = result.get("body") or ""
        return Reply(
            result["statusCode"],
            {k.lower(): v for k, v in (result.get("headers") or {}).items()},
            json.loads(body) if body else None,
        )

    def health(self) -> Reply:
        return self.invoke(sample_event("api-health.json"))

    def process(
        self,
        body: Any,
        *,
        raw: str | None = None,
        key: str | None = None,
        claims: Any = SAMPLE,
    ) -> Reply:
        """The sample request with this body, its `Idempotency-Key` only when `key`."""
        event = copy.deepcopy(sample_event("api-process-message.json"))
        event["body"] = raw if raw is not None else json.dumps(body, ensure_ascii=False)
        event["headers"].pop("idempotency-key", None)
        if key is not None:
            event["headers"]["idempotency-key"] = key
        return self.invoke(event if claims is SAMPLE else with_claims(event, claims))

    def stats(self, query: dict[str, str], *, claims: Any = SAMPLE) -> Reply:
        event = copy.deepcopy(sample_event("api-stats.json"))
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
        return self.invoke(event if claims is SAMPLE else with_claims(event, claims))


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[pytest.MonkeyPatch]:
    """The function's environment as the template gives it, without a model or tables."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY_SECRET_ARN",
        "COST_TABLE",
        "RATE_LIMIT_TABLE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("OPENAI_TIMEOUT_S", "5")
    monkeypatch.setenv("OPENAI_RETRY_BASE_S", "0.01")

    def reset() -> None:
        get_settings.cache_clear()
        routes.message_service.cache_clear()
        api_health.reset_cache()
        reset_connection()
        metrics.clear_metrics()

    reset()
    yield monkeypatch
    reset()


@pytest.fixture
def api(api_env: pytest.MonkeyPatch, db: Connection) -> Api:
    return Api()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()
    assert fake.script_errors == [], "a scripted model step failed"
    assert fake.unscripted == [], "the model was called without a scripted answer"


def use_model(env: pytest.MonkeyPatch, fake: FakeOpenAI) -> None:
    env.setenv("OPENAI_API_KEY", "sk-test-key-0123456789")
    env.setenv("OPENAI_BASE_URL", fake.url)
    get_settings.cache_clear()
