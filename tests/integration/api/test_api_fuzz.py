"""The HTTP API fuzzed from its own OpenAPI description (`salonbot openapi`) with
schemathesis: the ApiFunction handler behind the local gateway on 127.0.0.1, turning each
request into the API Gateway v2 event AWS would send. Valid and invalid requests alike
never get a 5xx, and valid ones get the status codes, content type and bodies the
document promises."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from salonbot.api import openapi_schema
from salonbot.db.connection import Connection
from salonbot_dev.local.authorizers import JwtVerifier, route_auth
from salonbot_dev.local.functions import FunctionSpec, HttpRoute
from salonbot_dev.local.gateway import Gateway
from salonbot_dev.local.handlers import LocalFunction
from salonbot_dev.local.issuer import LocalIssuer
from salonbot_dev.local.template import Resolver, Template
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID, REPO_ROOT

pytestmark = pytest.mark.integration

SCHEMA = schemathesis.openapi.from_dict(json.loads(openapi_schema()))
OPERATIONS = sorted(op.ok().label for op in SCHEMA.get_all_operations())
MAX_EXAMPLES = 50


@dataclass(frozen=True)
class Served:
    url: str
    authorization: str  # a token for the demo salon with every scope


@pytest.fixture
def gateway(api_env: pytest.MonkeyPatch, db: Connection, tmp_path: Path) -> Iterator[Served]:
    """ApiFunction as template.yaml declares it (handler, routes, their authorizer), on a
    free port, with a local issuer's key."""
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import load_salon_file

    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    template = Template.load(REPO_ROOT / "template.yaml")
    resolver = Resolver(template)
    properties = template.function_properties("ApiFunction")
    routes = [
        HttpRoute(
            str(e["Properties"]["Method"]).upper(),
            e["Properties"]["Path"],
            auth=route_auth(resolver, e["Properties"]),
        )
        for e in properties["Events"].values()
        if e["Type"] == "HttpApi"
    ]
    (authorizer,) = {route.auth.authorizer for route in routes if route.auth}
    issuer = LocalIssuer.in_folder(tmp_path)
    spec = FunctionSpec(
        logical_id="ApiFunction",
        code_dir=REPO_ROOT / properties["CodeUri"],
        handler=properties["Handler"],
        timeout_s=int(properties["Timeout"]),
        memory_mb=int(properties["MemorySize"]),
        environment={},
        routes=routes,
    )
    server = Gateway(
        [LocalFunction(spec, region="eu-west-1")],
        port=0,
        verifier=JwtVerifier({authorizer.issuer: issuer.jwks()}),
    )
    token = issuer.issue(
        issuer=authorizer.issuer,
        audience=authorizer.audience[0],
        salons=[DEMO_SALON_ID],
        scopes=["ai:write", "ai:read", "ai:admin"],
    )
    server.start()
    yield Served(server.url, f"Bearer {token}")
    server.stop()


def test_the_document_covers_every_route_of_the_template() -> None:
    assert OPERATIONS == [
        "DELETE /api/v1/ai/customers/{phone}",
        "GET /api/v1/ai/health",
        "GET /api/v1/ai/stats",
        "POST /api/v1/ai/process-message",
    ]


# Health takes no input: there is nothing invalid to generate for it.
FUZZED = [
    (label, mode)
    for label in OPERATIONS
    for mode in GenerationMode
    if not (label == "GET /api/v1/ai/health" and mode is GenerationMode.NEGATIVE)
]


def test_a_body_that_is_not_utf8_is_a_422_not_a_500(gateway: Served) -> None:
    request = urllib.request.Request(
        gateway.url + "/api/v1/ai/process-message",
        data=b"\xfd\xff{}",
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": gateway.authorization},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 422
    assert json.load(refused.value)["message"] == "Invalid request: body"


@pytest.mark.parametrize(
    ("label", "mode"), FUZZED, ids=[f"{label}-{mode.value}" for label, mode in FUZZED]
)
def test_fuzzed_requests_never_get_a_5xx(gateway: Served, label: str, mode: GenerationMode) -> None:
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    statuses: list[int] = []
    started = time.monotonic()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        if mode is GenerationMode.POSITIVE:
            # The token's salon, or every valid request would be a 403
            if isinstance(case.body, dict) and "salon_id" in case.body:
                case.body["salon_id"] = str(DEMO_SALON_ID)
            if isinstance(case.query, dict) and "salon_id" in case.query:
                case.query["salon_id"] = str(DEMO_SALON_ID)
        headers = {"Authorization": gateway.authorization}
        response = case.call(base_url=gateway.url, headers=headers, timeout=10)
        statuses.append(response.status_code)
        checks = [not_a_server_error]
        if mode is GenerationMode.POSITIVE:
            checks += [status_code_conformance, content_type_conformance]
            checks += [response_schema_conformance]
        case.validate_response(response, checks=checks)

    run()
    assert statuses, "no request was generated"
    assert max(statuses) < 500
    if mode is GenerationMode.POSITIVE:
        # The demo salon's token passes the gateway and the function's checks
        assert not {401, 403} & set(statuses), statuses
    assert time.monotonic() - started < 30
