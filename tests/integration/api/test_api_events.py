"""The sample events in `events/` (for `sam local invoke ApiFunction -e ...`), invoked
in-process against PostgreSQL with the demo salon, so they never rot."""

from __future__ import annotations

import json
import re

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.db.connection import Connection
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.integration.api.conftest import Api, sample_event

pytestmark = pytest.mark.integration


@pytest.fixture
def demo(db: Connection) -> None:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()


@pytest.mark.parametrize(
    ("name", "route", "protected"),
    [
        ("api-health.json", "GET /api/v1/ai/health", False),
        ("api-process-message.json", "POST /api/v1/ai/process-message", True),
        ("api-stats.json", "GET /api/v1/ai/stats", True),
    ],
)
def test_samples_are_http_api_v2_events(name: str, route: str, protected: bool) -> None:
    event = sample_event(name)
    assert event["version"] == "2.0" and event["routeKey"] == route
    method, path = route.split(" ")
    assert event["requestContext"]["http"] == {
        **event["requestContext"]["http"],
        "method": method,
        "path": path,
    }
    claims = event["requestContext"].get("authorizer", {}).get("jwt", {}).get("claims")
    assert bool(claims) is protected


def test_health_sample(api: Api) -> None:
    reply = api.invoke(sample_event("api-health.json"))
    assert reply.status == 200
    assert (reply.body["status"], reply.body["service"]) == ("ok", "ai")


def test_process_message_sample(api: Api, demo: None, db: Connection) -> None:
    event = sample_event("api-process-message.json")
    reply = api.invoke(event)
    assert reply.status == 200, reply.body
    assert re.search(r"[А-Яа-я]", reply.body["response"])
    sent = json.loads(event["body"])
    stored = db.execute(
        "SELECT content FROM ai_messages WHERE role = 'user' AND salon_id = %s",
        (DEMO_SALON_ID,),
    ).fetchall()
    assert [r["content"] for r in stored] == [sent["message"]]


def test_stats_sample(api: Api, demo: None) -> None:
    reply = api.invoke(sample_event("api-stats.json"))
    assert reply.status == 200, reply.body
    assert reply.body["salon_id"] == str(DEMO_SALON_ID)
    assert reply.body["from"].startswith("2026-03-01T00:00:00")
    assert reply.body["messages_received"] == 0
