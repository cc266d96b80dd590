"""A fake WhatsApp Cloud API send endpoint on 127.0.0.1, for tests and the local stack.

It accepts `POST [/<version>]/{phone_number_id}/messages` like Graph API does, answers
with a fresh `wamid`, keeps every request, and (locally) prints each outgoing message
readably. It can be told to fail: `script(status, code, times)` makes the next sends
answer with a Cloud API error; `hang_up(times)` closes the connection without an answer
(a send whose outcome the client cannot know).

Inspection: `GET /_messages[?to=<wa_id>]` lists accepted messages as
`{"messages": [{"id", "phone_number_id", "to", "payload"}]}`; `POST /_script` with
`{"status", "code", "times"}` scripts failures from another process."""

from __future__ import annotations

import itertools
import json
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

from salonbot.whatsapp.outgoing import (
    ButtonsMessage,
    ListMessage,
    Option,
    TextMessage,
    to_plain_text,
)


@dataclass
class SentMessage:
    id: str
    phone_number_id: str
    to: str
    payload: dict[str, Any]
    authorization: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phone_number_id": self.phone_number_id,
            "to": self.to,
            "payload": self.payload,
        }


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class _Failure:
    status: int
    code: int | None
    hang_up: bool = False


@dataclass
class FakeWhatsApp:
    host: str = "127.0.0.1"
    port: int = 0
    out: IO[str] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------

    def start(self) -> FakeWhatsApp:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body
            # waits for the client's delayed ACK of the headers (40 ms on Linux) on
            # kept-alive connections, a stall real API servers (TCP_NODELAY) never add.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                fake._get(self)

            def do_POST(self) -> None:
                fake._post(self)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-whatsapp", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, status: int, code: int | None = None, *, times: int = 1) -> None:
        """The next `times` sends fail with this HTTP status and Cloud API error code."""
        with self._lock:
            self._failures.extend(_Failure(status, code) for _ in range(times))

    def hang_up(self, *, times: int = 1, after_accepting: bool = True) -> None:
        """The next `times` sends get no answer: the connection closes. With
        `after_accepting` the message counts as sent (WhatsApp took it, the answer was
        lost), the case a client must not repeat."""
        with self._lock:
            self._failures.extend(_Failure(0, None, hang_up=after_accepting) for _ in range(times))

    def sent_to(self, wa_id: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.to == wa_id.lstrip("+")]

    def texts_to(self, wa_id: str) -> list[str]:
        return [_readable(m.payload) for m in self.sent_to(wa_id)]

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.requests.clear()
            self._failures.clear()

    # -- HTTP ---------------------------------------------------------------------------

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlparse(handler.path)
        if parsed.path.rstrip("/") != "/_messages":
            self._reply(handler, 404, {"error": {"message": "not found", "code": 100}})
            return
        to = urllib.parse.parse_qs(parsed.query).get("to", [None])[0]
        with self._lock:
            chosen = [m for m in self.sent if to is None or m.to == to.lstrip("+")]
            self._reply(handler, 200, {"messages": [m.as_dict() for m in chosen]})

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        path = urllib.parse.urlparse(handler.path).path
        if path.rstrip("/") == "/_script":
            spec = json.loads(body or b"{}")
            self.script(
                int(spec.get("status", 500)), spec.get("code"), times=int(spec.get("times", 1))
            )
            self._reply(handler, 200, {"ok": True})
            return
        with self._lock:
            self.requests.append(RecordedRequest("POST", path, body, dict(handler.headers.items())))
            failure = self._failures.pop(0) if self._failures else None
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[-1] != "messages":
            self._reply(handler, 404, {"error": {"message": f"unknown path {path}", "code": 100}})
            return
        try:
            payload = json.loads(body)
            to = str(payload["to"])
        except (ValueError, KeyError, TypeError):
            self._reply(handler, 400, {"error": {"message": "invalid body", "code": 100}})
            return
        if failure is not None and failure.status:
            self._reply(
                handler,
                failure.status,
                {
                    "error": {
                        "message": "scripted failure",
                        "type": "OAuthException",
                        "code": failure.code,
                    }
                },
            )
            return
        message = SentMessage(
            id=f"wamid.fake.{next(self._ids)}",
            phone_number_id=parts[-2],
            to=to.lstrip("+"),
            payload=payload,
            authorization=handler.headers.get("Authorization"),
        )
        if failure is None or failure.hang_up:
            with self._lock:
                self.sent.append(message)
            self._print(message)
        if failure is not None:
            handler.close_connection = True
            handler.connection.close()
            return
        self._reply(
            handler,
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [{"id": message.id}],
            },
        )

    def _print(self, message: SentMessage) -> None:
        if self.out is None:
            return
        text = _readable(message.payload)
        indented = text.replace("\n", "\n    ")
        print(f"[whatsapp → +{message.to}] {indented}", file=self.out, flush=True)


def _readable(payload: dict[str, Any]) -> str:
    """A Cloud API body as the customer would read it, choices numbered."""
    kind = payload.get("type")
    if kind == "text":
        return str(payload.get("text", {}).get("body", ""))
    interactive = payload.get("interactive") or {}
    body = str((interactive.get("body") or {}).get("text", "")) or "…"
    action = interactive.get("action") or {}
    if interactive.get("type") == "list":
        rows = [row for section in action.get("sections", []) for row in section.get("rows", [])]
        options = [
            Option(id=r["id"], title=r["title"], description=r.get("description")) for r in rows
        ]
        if options:
            return to_plain_text(
                ListMessage(body=body, button=action.get("button") or "…", options=options)
            )
    if interactive.get("type") == "button":
        buttons = [b["reply"] for b in action.get("buttons", []) if "reply" in b]
        options = [Option(id=b["id"], title=b["title"]) for b in buttons]
        if options:
            return to_plain_text(ButtonsMessage(body=body, options=options))
    return (
        to_plain_text(TextMessage(body=body)) if body else json.dumps(payload, ensure_ascii=False)
    )


def start_fake_whatsapp(
    *, host: str = "127.0.0.1", port: int = 0, out: IO[str] | None = sys.stdout
) -> FakeWhatsApp:
    """Start a fake send API in a background thread; `stop()` it when done."""
    return FakeWhatsApp(host=host, port=port, out=out).start()
