"""The OpenAPI document the resolver emits, through `salonbot openapi`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from salonbot_dev.cli import main


def test_openapi_document_lists_the_routes_and_their_shapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["openapi"]) == 0
    printed = json.loads(capsys.readouterr().out)
    out = tmp_path / "openapi.json"
    assert main(["openapi", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document == printed
    paths = document["paths"]
    assert set(paths) == {
        "/api/v1/ai/health",
        "/api/v1/ai/process-message",
        "/api/v1/ai/stats",
        "/api/v1/ai/customers/{phone}",
        "/api/v1/staff/me",
        "/api/v1/staff/conversations",
        "/api/v1/staff/conversations/{conversation_id}/messages",
        "/api/v1/staff/conversations/{conversation_id}/templates",
        "/api/v1/staff/conversations/{conversation_id}/release",
        "/api/v1/staff/bookings",
        "/api/v1/staff/bookings/{code}",
        "/api/v1/staff/metrics",
        "/api/v1/staff/salon-file",
    }
    # the console's pages and views are the browser's, not the API's
    assert not any("/views/" in path or path.startswith("/console") for path in paths)
    # the staff routes take the staff token, and every POST an Idempotency-Key
    reply = paths["/api/v1/staff/conversations/{conversation_id}/messages"]["post"]
    assert reply["security"] == [{"staff": []}]
    assert "idempotency-key" in {p["name"].lower() for p in reply["parameters"]}
    assert set(reply["responses"]) >= {"201", "401", "403", "409", "422"}
    template = paths["/api/v1/staff/conversations/{conversation_id}/templates"]["post"]
    assert "idempotency-key" in {p["name"].lower() for p in template["parameters"]}
    assert set(template["responses"]) >= {"201", "401", "403", "409", "422"}
    assert {"jwt", "staff"} <= set(document["components"]["securitySchemes"])
    schemas = document["components"]["schemas"]
    request = schemas["ProcessMessageRequest"]
    assert set(request["required"]) == {"salon_id", "phone_number", "message"}
    response = schemas["ProcessMessageResponse"]["properties"]
    assert {"response", "tokens_used", "cost", "response_time_ms", "model", "booking_code"} <= set(
        response
    )
    # Health is public; the others need the JWT with their scope, and may refuse it
    assert "security" not in paths["/api/v1/ai/health"]["get"]
    stats, process = paths["/api/v1/ai/stats"]["get"], paths["/api/v1/ai/process-message"]["post"]
    assert stats["security"] == [{"jwt": ["ai:read"]}]
    assert process["security"] == [{"jwt": ["ai:write"]}]
    for operation in (stats, process):
        assert {"401", "403"} <= set(operation["responses"])
    scheme = document["components"]["securitySchemes"]["jwt"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert all(word in scheme["description"] for word in ("salon_id", "salon_ids", "ai:admin"))
    params = {p["name"] for p in stats["parameters"]}
    assert params == {"salon_id", "from", "to"}
    (key,) = process["parameters"]
    assert (key["name"].lower(), key["in"], key["required"]) == ("idempotency-key", "header", False)
    erasure = paths["/api/v1/ai/customers/{phone}"]["delete"]
    assert erasure["security"] == [{"jwt": ["ai:admin"]}]
    assert {"401", "403"} <= set(erasure["responses"])
    assert {(p["name"], p["in"]) for p in erasure["parameters"]} == {
        ("phone", "path"),
        ("salon_id", "query"),
    }
    assert "ErasureResponse" in schemas
