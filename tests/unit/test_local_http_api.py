"""HTTP API payload 2.0: route matching, the event of a request, responses from results."""

from __future__ import annotations

import base64
import json

from salonbot_dev.local.functions import HttpRoute
from salonbot_dev.local.http_api import Request, build_event, build_response, match_route

ROUTES = [
    HttpRoute("GET", "/webhook"),
    HttpRoute("POST", "/webhook"),
    HttpRoute("GET", "/api/v1/ai/health"),
    HttpRoute("ANY", "/api/v1/{proxy+}"),
    HttpRoute("GET", "/items/{id}"),
]


def test_static_routes_beat_parameters_and_greedy_paths() -> None:
    match = match_route(ROUTES, "GET", "/api/v1/ai/health")
    assert match is not None and match.route == HttpRoute("GET", "/api/v1/ai/health")
    greedy = match_route(ROUTES, "POST", "/api/v1/ai/process-message")
    assert greedy is not None and greedy.route.path == "/api/v1/{proxy+}"
    assert greedy.path_parameters == {"proxy": "ai/process-message"}
    item = match_route(ROUTES, "GET", "/items/42")
    assert item is not None and item.path_parameters == {"id": "42"}


def test_method_and_path_must_both_match() -> None:
    assert match_route(ROUTES, "DELETE", "/webhook") is None
    assert match_route(ROUTES, "GET", "/nowhere") is None
    assert match_route([*ROUTES, HttpRoute("ANY", "$default")], "GET", "/nowhere") is not None


def test_event_for_a_json_post() -> None:
    # Given a signed JSON POST with a query string and mixed-case, repeated headers
    body = json.dumps({"text": "Привет"}, ensure_ascii=False).encode()
    request = Request(
        method="POST",
        target="/webhook?a=1&b=2&a=3",
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", "sha256=abc"),
            ("X-Forwarded-For", "1.1.1.1"),
            ("X-Forwarded-For", "2.2.2.2"),
            ("Cookie", "a=1; b=2"),
        ],
        body=body,
    )
    match = match_route(ROUTES, "POST", "/webhook")
    assert match is not None
    # When it becomes an event
    event = build_event(request, match, now=1_700_000_000.0)
    # Then the body is the raw text, headers are lowercased, the query is kept raw and parsed
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /webhook"
    assert event["rawPath"] == "/webhook"
    assert event["rawQueryString"] == "a=1&b=2&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False
    assert event["headers"]["x-hub-signature-256"] == "sha256=abc"
    assert event["headers"]["x-forwarded-for"] == "1.1.1.1,2.2.2.2"
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/webhook"
    assert context["routeKey"] == "POST /webhook"
    assert context["timeEpoch"] == 1_700_000_000_000
    assert "pathParameters" not in event


def test_binary_and_form_bodies_are_base64() -> None:
    match = match_route(ROUTES, "POST", "/webhook")
    assert match is not None
    for content_type, body in [
        ("application/octet-stream", b"\x00\xff"),
        ("application/x-www-form-urlencoded", b"a=1"),
        ("application/json", b"\xff\xfe"),  # not UTF-8
    ]:
        request = Request("POST", "/webhook", [("content-type", content_type)], body)
        event = build_event(request, match)
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == body


def test_get_without_body_or_query() -> None:
    match = match_route(ROUTES, "GET", "/webhook")
    assert match is not None
    event = build_event(Request("GET", "/webhook", [], b""), match)
    assert event["rawQueryString"] == ""
    assert "body" not in event and "queryStringParameters" not in event


def test_responses_from_results() -> None:
    full = build_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain"},
            "cookies": ["s=1"],
            "body": base64.b64encode(b"hi").decode(),
            "isBase64Encoded": True,
        }
    )
    assert (full.status, full.body) == (201, b"hi")
    assert ("set-cookie", "s=1") in full.headers
    # A result without statusCode is a JSON body with 200
    bare = build_response({"status": "ok"})
    assert (bare.status, json.loads(bare.body)) == (200, {"status": "ok"})
    assert build_response({"statusCode": 204}).body == b""
