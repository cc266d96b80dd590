"""Tenants are walled in the function too: every protected route of ApiFunction (read
from template.yaml, each with its sample event in events/) refuses a token for another
salon and a token without the route's scope with 403, and an event without a verified
token with 401, before it reads or changes anything; a backend's token for several
salons (`salon_ids`) serves each of them."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest

from salonbot.api.auth import AI_READ, AI_WRITE
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.db.connection import Connection
from salonbot_dev.local.template import Template
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID, REPO_ROOT
from tests.integration.api.conftest import Api, sample_event, token_claims, with_claims
from tests.integration.salon_builder import BERLIN_SALON_ID, berlin_salon

pytestmark = pytest.mark.integration

CUSTOMER = "+79001234567"


def protected_routes() -> list[tuple[str, list[str]]]:
    """(route key, scopes) of every ApiFunction route with an authorizer."""
    template = Template.load(REPO_ROOT / "template.yaml")
    found = []
    for event in template.function_properties("ApiFunction")["Events"].values():
        properties = event["Properties"]
        auth = properties.get("Auth") or {}
        if auth.get("Authorizer") == "NONE":
            continue
        route = f"{properties['Method'].upper()} {properties['Path']}"
        found.append((route, list(auth.get("AuthorizationScopes") or [])))
    return found


PROTECTED = protected_routes()


def sample_for(route: str) -> dict[str, Any]:
    """The sample event in events/ for this route (every route has one)."""
    for path in sorted((REPO_ROOT / "events").glob("api-*.json")):
        event: dict[str, Any] = json.loads(path.read_text())
        if event.get("routeKey") == route:
            event["headers"].pop("idempotency-key", None)
            return event
    raise AssertionError(f"no sample event in events/ for {route}")


def sample_salon(event: dict[str, Any]) -> str:
    """The salon the sample request names, in its query or its body."""
    query = event.get("queryStringParameters") or {}
    if "salon_id" in query:
        return str(query["salon_id"])
    return str(json.loads(event.get("body") or "{}")["salon_id"])


def data_rows(db: Connection) -> dict[str, int]:
    tables = ("ai_conversations", "ai_messages", "inbound_messages", "bookings", "clients")
    return {t: db.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in tables}


@pytest.fixture
def salons(db: Connection) -> tuple[uuid.UUID, uuid.UUID]:
    """The demo salon (the samples' salon) and another tenant."""
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    berlin_salon(db)
    db.commit()
    return DEMO_SALON_ID, BERLIN_SALON_ID


def test_every_protected_route_names_its_scope() -> None:
    routes = dict(PROTECTED)
    assert routes["POST /api/v1/ai/process-message"] == [AI_WRITE]
    assert routes["GET /api/v1/ai/stats"] == [AI_READ]
    assert all(routes.values()), routes


@pytest.mark.parametrize(("route", "scopes"), PROTECTED, ids=[r for r, _ in PROTECTED])
def test_a_token_for_another_salon_gets_403_and_changes_nothing(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID], db: Connection, route: str, scopes: list[str]
) -> None:
    event = sample_for(route)
    target = sample_salon(event)
    assert target == str(DEMO_SALON_ID)
    before = data_rows(db)
    # Given a valid token (every scope) of the other tenant
    other = token_claims(BERLIN_SALON_ID, scope="ai:write ai:read ai:admin")
    # When it asks for the demo salon's route
    reply = api.invoke(with_claims(event, other))
    # Then 403, naming no salon, and nothing was read into the answer or written
    assert reply.status == 403, reply.body
    assert reply.body == {
        "statusCode": 403,
        "message": "Forbidden: the token is not for this salon",
    }
    assert data_rows(db) == before


@pytest.mark.parametrize(("route", "scopes"), PROTECTED, ids=[r for r, _ in PROTECTED])
def test_a_token_without_the_routes_scope_gets_403(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID], db: Connection, route: str, scopes: list[str]
) -> None:
    event = sample_for(route)
    others = [s for s in ("ai:write", "ai:read", "ai:admin", "openid") if s not in scopes]
    before = data_rows(db)
    reply = api.invoke(with_claims(event, token_claims(DEMO_SALON_ID, scope=" ".join(others))))
    assert reply.status == 403, reply.body
    assert reply.body["message"] == f"Forbidden: the token does not grant {scopes[0]}"
    assert data_rows(db) == before


@pytest.mark.parametrize(("route", "scopes"), PROTECTED, ids=[r for r, _ in PROTECTED])
def test_no_verified_token_gets_401(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID], db: Connection, route: str, scopes: list[str]
) -> None:
    before = data_rows(db)
    reply = api.invoke(with_claims(sample_for(route), None))
    assert reply.status == 401, reply.body
    assert reply.body == {"statusCode": 401, "message": "Unauthorized"}
    assert reply.headers["www-authenticate"] == "Bearer"
    assert data_rows(db) == before


@pytest.mark.parametrize(("route", "scopes"), PROTECTED, ids=[r for r, _ in PROTECTED])
def test_the_salons_own_token_is_served(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID], route: str, scopes: list[str]
) -> None:
    event = sample_for(route)
    reply = api.invoke(with_claims(event, token_claims(DEMO_SALON_ID, scope=" ".join(scopes))))
    assert reply.status < 400, reply.body


def test_a_backend_serving_several_salons_reaches_each_and_no_other(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID], db: Connection
) -> None:
    demo, berlin = salons
    both = token_claims(demo, berlin)
    assert both["salon_ids"].startswith("[")  # API Gateway's form of a list claim
    for salon in (demo, berlin):
        body = {"salon_id": str(salon), "phone_number": CUSTOMER, "message": "Hello"}
        assert api.process(body, claims=both).status == 200
        assert api.stats({"salon_id": str(salon)}, claims=both).status == 200
    third = uuid.UUID("3f0c1a52-0000-4000-8000-0000000000b2")
    body = {"salon_id": str(third), "phone_number": CUSTOMER, "message": "Hello"}
    assert api.process(body, claims=both).status == 403
    assert api.stats({"salon_id": str(third)}, claims=both).status == 403


def test_another_salons_customer_is_out_of_reach_through_process_message(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID], db: Connection
) -> None:
    demo, berlin = salons
    # Given a customer of the Berlin salon with a conversation there
    mine = {"salon_id": str(berlin), "phone_number": CUSTOMER, "message": "Hello"}
    assert api.process(mine, claims=token_claims(berlin)).status == 200
    before = data_rows(db)
    # When the demo salon's backend names the Berlin salon (to list, cancel, hand off, ...)
    for text in ("Покажи мои записи", "Отмени мою запись", "Позовите администратора"):
        theirs = {**mine, "message": text}
        reply = api.process(theirs, claims=token_claims(demo))
        assert reply.status == 403
        assert str(berlin) not in json.dumps(reply.body)
    # Then nothing of that customer changed
    assert data_rows(db) == before


def test_stats_of_another_salon_are_refused_before_its_existence_shows(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID]
) -> None:
    demo, berlin = salons
    # An existing salon and a missing one answer alike: 403, not 200 or 404
    missing = "3f0c1a52-0000-4000-8000-0000000000ff"
    replies = [
        api.stats({"salon_id": s}, claims=token_claims(demo)) for s in (str(berlin), missing)
    ]
    assert [r.status for r in replies] == [403, 403]
    assert replies[0].body == replies[1].body


def test_api_gateways_scopes_list_counts_as_the_tokens_scopes(
    api: Api, salons: tuple[uuid.UUID, uuid.UUID]
) -> None:
    # jwt.scopes set by API Gateway for a route with AuthorizationScopes, no scope claim
    event = copy.deepcopy(sample_event("api-stats.json"))
    claims = token_claims(DEMO_SALON_ID, scope="")
    del claims["scope"]
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": [AI_READ]}}
    assert api.invoke(event).status == 200
