"""The local HTTP gateway: each request becomes the HTTP API v2 event of its route and is
handed to that route's function. Unlike `sam local start-api` it enforces the routes'
authorizers from the template, as API Gateway does (`authorizers`): a protected route
without a valid token, or without its scope, never reaches its function. It listens on
127.0.0.1 only.

Paths under `/_local/` belong to the stack itself (never to an API route): the schedules
on demand (`POST /_local/schedules/{name}`), a readiness probe (`GET /_local/ready`) and
the key set of the local token issuer (`GET /_local/jwks.json`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from salonbot_dev.local.authorizers import Refusal
from salonbot_dev.local.http_api import (
    INTERNAL_ERROR,
    NOT_FOUND,
    Request,
    Response,
    build_event,
    build_response,
    header_values,
    json_response,
    match_route,
    query_values,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot_dev.local.authorizers import JwtVerifier
    from salonbot_dev.local.functions import HttpRoute
    from salonbot_dev.local.handlers import LocalFunction

log = logging.getLogger("salonbot_dev.local.gateway")
LOCAL_PREFIX = "/_local/"


def _refused(refusal: Refusal) -> Response:
    """API Gateway's answer to a request its authorizer refused."""
    response = json_response(refusal.status, {"message": refusal.message})
    return Response(
        response.status,
        [*response.headers, ("www-authenticate", refusal.www_authenticate)],
        response.body,
    )


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 resets connections when a burst of webhooks
    # arrives faster than the accepting thread (which shares the GIL) takes them.
    request_queue_size = 128
    daemon_threads = True


@dataclass
class Gateway:
    functions: list[LocalFunction]
    host: str = "127.0.0.1"
    port: int = 3000
    account_id: str = "123456789012"
    # Runs a schedule by name and returns the function's result (the stack provides it).
    run_schedule: Callable[[str], Any] | None = None
    # Checks the tokens of protected routes; without it every protected route is refused.
    verifier: JwtVerifier | None = None
    # The key set served at /_local/jwks.json (the local issuer's).
    jwks: dict[str, Any] | None = None
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def routes(self) -> list[tuple[HttpRoute, LocalFunction]]:
        return [(route, fn) for fn in self.functions for route in fn.spec.routes]

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def handle(self, request: Request) -> Response:
        path = request.target.partition("?")[0]
        if path.startswith(LOCAL_PREFIX):
            return self._local(request.method, path[len(LOCAL_PREFIX) :])
        by_route = {route: fn for route, fn in self.routes}
        match = match_route(list(by_route), request.method, path)
        if match is None:
            return NOT_FOUND
        authorizer = None
        auth = match.route.auth
        if auth is not None:
            try:
                if self.verifier is None:
                    raise Refusal(401, "no keys for the route's authorizer")
                granted = self.verifier.authorize(
                    auth, header_values(request), query_values(request)
                )
            except Refusal as refusal:
                return _refused(refusal)
            authorizer = granted.context()
        event = build_event(request, match, account_id=self.account_id, authorizer=authorizer)
        function = by_route[match.route]
        try:
            result = function.invoke(event)
        except Exception:
            log.exception("%s failed on %s", function.name, match.route.route_key)
            return INTERNAL_ERROR
        return build_response(result)

    def _local(self, method: str, path: str) -> Response:
        if method == "GET" and path == "ready":
            return json_response(200, {"status": "ready"})
        if method == "GET" and path == "jwks.json" and self.jwks is not None:
            return json_response(200, self.jwks)
        name = path.removeprefix("schedules/")
        if method == "POST" and name != path and self.run_schedule is not None:
            try:
                return json_response(200, {"result": self.run_schedule(name)})
            except KeyError:
                return json_response(404, {"message": f"no schedule named {name}"})
            except Exception as exc:
                log.exception("schedule %s failed", name)
                return json_response(500, {"message": f"{type(exc).__name__}: {exc}"})
        return NOT_FOUND

    def start(self) -> None:
        gateway = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    target=self.path,
                    headers=list(self.headers.items()),
                    body=body,
                    source_ip=self.client_address[0],
                )
                response = gateway.handle(request)
                self.send_response(response.status)
                names = {name.lower() for name, _ in response.headers}
                for name, value in response.headers:
                    self.send_header(name, value)
                if "content-length" not in names:
                    self.send_header("content-length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

        self._server = _Server((self.host, self.port), _Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
