"""`DELETE /api/v1/ai/customers/{phone}?salon_id=...` through the ApiFunction handler: a
token with `ai:admin` for the salon erases the customer (PostgreSQL and the function's
DynamoDB tables in moto) and gets a summary; any other token gets 403 and changes
nothing."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import get_settings
from salonbot.db.connection import Connection
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.integration.api.conftest import Api, Reply, sample_event
from tests.integration.privacy.stores import Stores, dynamo_occurrences, template_tables

pytestmark = pytest.mark.integration

PHONE = "+79001234567"
OTHER = "+79007654321"
SAMPLE = "api-forget-customer.json"


@pytest.fixture
def stores(api_env: pytest.MonkeyPatch) -> Iterator[Stores]:
    """The function's tables, as the template names them in its environment."""
    for stores in template_tables(api_env):
        for setting, table in stores.tables.items():
            api_env.setenv(setting.upper(), table)
        get_settings.cache_clear()
        yield stores


@pytest.fixture
def demo(db: Connection) -> uuid.UUID:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    return DEMO_SALON_ID


def forget(
    api: Api,
    phone: str = PHONE,
    *,
    salon_id: str = str(DEMO_SALON_ID),
    claims: dict[str, Any] | None = None,
    scopes: list[str] | None = None,
) -> Reply:
    event = copy.deepcopy(sample_event(SAMPLE))
    path = f"/api/v1/ai/customers/{phone}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"phone": phone}
    event["queryStringParameters"] = {"salon_id": salon_id}
    event["rawQueryString"] = f"salon_id={salon_id}"
    jwt = event["requestContext"]["authorizer"]["jwt"]
    if claims is not None:
        jwt["claims"] = {**jwt["claims"], **claims}
    if scopes is not None:
        jwt["scopes"] = scopes
    return api.invoke(event)


def talk(api: Api, phone: str, text: str = "Привет") -> None:
    body = {"salon_id": str(DEMO_SALON_ID), "phone_number": phone, "message": text}
    assert api.process(body).status == 200


def conversations(db: Connection) -> set[str]:
    rows = db.execute("SELECT phone_number FROM ai_conversations").fetchall()
    db.commit()
    return {r["phone_number"] for r in rows}


def test_an_admin_token_for_the_salon_erases_the_customer_and_gets_a_summary(
    api: Api, demo: uuid.UUID, stores: Stores, db: Connection
) -> None:
    # Given two customers who wrote through the API (the throttle counted both)
    talk(api, PHONE)
    talk(api, OTHER)
    assert dynamo_occurrences(stores, [PHONE]) == {stores.tables["rate_limit_table"]: 1}
    # When the salon's backend asks to forget one, with the sample event (URL-encoded +)
    reply = api.invoke(sample_event(SAMPLE))
    # Then it answers what went, the phone masked
    assert reply.status == 200, reply.body
    assert reply.body["salon_id"] == str(demo)
    assert reply.body["phone"] == "***4567"
    assert reply.body["postgresql"]["ai_conversations"] == 1
    assert reply.body["postgresql"]["ai_messages"] == 2
    assert reply.body["dynamodb"] == {
        "throttle_windows": 1,
        "seen_message_ids": 0,
        "latest_messages": 0,
        "cost_reservations": 0,
        "cost_customer_counters": 0,
    }
    assert reply.body["not_configured"] == []
    assert PHONE not in str(reply.body)
    # and the customer is gone from the database and the throttle; the other is not
    assert conversations(db) == {OTHER}
    assert dynamo_occurrences(stores, [PHONE]) == {}
    assert dynamo_occurrences(stores, [OTHER]) == {stores.tables["rate_limit_table"]: 1}
    # And asking again is harmless
    again = forget(api, "%2B79001234567")
    assert again.status == 200 and again.body["postgresql"]["ai_conversations"] == 0


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "ai:write ai:read"}, []),  # no ai:admin
        ({"salon_id": "3f0c1a52-0000-4000-8000-0000000000aa"}, None),  # another salon's
        ({"salon_id": None}, None),  # no salon at all
    ],
)
def test_any_other_token_gets_403_and_changes_nothing(
    api: Api, demo: uuid.UUID, db: Connection, claims: dict[str, Any], scopes: list[str] | None
) -> None:
    talk(api, PHONE)
    reply = forget(api, claims=claims, scopes=scopes)
    assert reply.status == 403
    # The same refusal as every protected route's (salonbot.api.auth), naming no salon
    assert reply.body["statusCode"] == 403
    assert reply.body["message"].startswith("Forbidden")
    assert "3f0c1a52" not in reply.body["message"]
    assert conversations(db) == {PHONE}


def test_a_backend_serving_several_salons_names_them_in_salon_ids(
    api: Api, demo: uuid.UUID, db: Connection
) -> None:
    talk(api, PHONE)
    # API Gateway hands a list claim over as "[a b]"
    several = {"salon_id": None, "salon_ids": f"[3f0c1a52-0000-4000-8000-0000000000aa {demo}]"}
    reply = forget(api, claims=several)
    assert reply.status == 200, reply.body
    assert conversations(db) == set()


def test_unknown_salons_and_bad_numbers_are_refused(api: Api, demo: uuid.UUID) -> None:
    unknown = "3f0c1a52-0000-4000-8000-00000000dead"
    reply = forget(api, salon_id=unknown, claims={"salon_id": unknown})
    assert reply.status == 404
    bad = forget(api, "not-a-phone")
    assert bad.status == 422
    assert bad.body["detail"][0]["field"] == "phone"
