"""API Gateway HTTP API (payload format 2.0): route matching, the event a function
receives for a request, and the HTTP response API Gateway makes of its result."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from salonbot_dev.local.functions import HttpRoute

# Content types whose body API Gateway passes as text; everything else is base64.
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|[\w.+-]+\+(json|xml)))$", re.IGNORECASE
)


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path with query string, as on the request line
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]


def _pattern(path: str) -> re.Pattern[str]:
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "/?$")


def _specificity(route: HttpRoute) -> tuple[int, int, int, int]:
    """Sort key: static paths before parameters, greedy last, a method before ANY."""
    segments = route.path.strip("/").split("/")
    return (
        route.path == "$default",
        sum(s.endswith("+}") for s in segments),
        sum(s.startswith("{") for s in segments),
        route.method == "ANY",
    )


def match_route(routes: list[HttpRoute], method: str, path: str) -> RouteMatch | None:
    for route in sorted(routes, key=_specificity):
        if route.method not in ("ANY", method.upper()):
            continue
        if route.path == "$default":
            return RouteMatch(route, {})
        found = _pattern(route.path).match(path)
        if found:
            return RouteMatch(route, dict(found.groupdict()))
    return None


def header_values(request: Request) -> dict[str, str]:
    """Lower-case names; repeated headers joined with commas, as API Gateway does
    (cookies with `;`, for the event's `cookies`)."""
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        joiner = ";" if key == "cookie" else ","
        headers[key] = f"{headers[key]}{joiner}{value}" if key in headers else value
    return headers


def query_values(request: Request) -> dict[str, str]:
    """Query parameters; a repeated one joined with commas, as API Gateway does."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.target.partition("?")[2], keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    return query


def build_event(
    request: Request,
    match: RouteMatch,
    *,
    api_id: str = "local",
    account_id: str = "123456789012",
    now: float | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event a function behind an HTTP API route receives (payload format 2.0);
    `authorizer` is the route's authorizer context (`{"jwt": {"claims": ...}}`)."""
    now = time.time() if now is None else now
    path, _, raw_query = request.target.partition("?")
    headers = header_values(request)
    cookies: list[str] = []
    for part in headers.pop("cookie", "").split(";"):
        if part.strip():
            cookies.append(part.strip())
    query = query_values(request)
    host = headers.get("host", "127.0.0.1")
    moment = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": request.method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": match.route.route_key,
            "stage": "$default",
            "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if request.body:
        content_type = headers.get("content-type", "").split(";")[0].strip()
        text = _as_text(request.body) if _TEXT_TYPES.match(content_type) else None
        if text is None:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def build_response(result: Any) -> Response:
    """What API Gateway makes of a function's result (payload format 2.0 rules)."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((name, str(v)) for v in values)
        headers.extend(("set-cookie", c) for c in result.get("cookies") or [])
        raw = result.get("body")
        if raw is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(raw)
        else:
            body = str(raw).encode("utf-8")
        return Response(int(result["statusCode"]), headers, body)
    # A result without statusCode is taken as a JSON body with status 200.
    text = result if isinstance(result, str) else json.dumps(result)
    return Response(200, [("content-type", "application/json")], text.encode("utf-8"))


def json_response(status: int, data: Any) -> Response:
    body = json.dumps(data).encode("utf-8")
    return Response(status, [("content-type", "application/json")], body)


NOT_FOUND = json_response(404, {"message": "Not Found"})
INTERNAL_ERROR = json_response(500, {"message": "Internal Server Error"})
