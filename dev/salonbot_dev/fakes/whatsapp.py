"""A fake WhatsApp Cloud API send endpoint on 127.0.0.1, for tests and the local stack.

It accepts `POST [/<version>]/{phone_number_id}/messages` like Graph API does, answers
with a fresh `wamid`, keeps every request, and (locally) prints each outgoing message
readably. It can be told to fail: `script(status, code, times)` makes the next sends
answer with a Cloud API error; `hang_up(times)` closes the connection without an answer
(a send whose outcome the client cannot know).

WhatsApp's own rules are enforced, so tests of the salon's outbound messages are honest:
- the 24-hour customer service window: a free-form message (anything but a template) to a
  customer who last wrote more than 24 hours ago is refused with error 131047. The fake
  learns of a customer's messages from `customer_wrote` (or `POST /_inbound`); recipients
  it never heard from are outside the window with `strict_window`, and unchecked without
  it (tests that never model inbound traffic);
- templates: a template message must name a template the business created
  (`POST /{waba_id}/message_templates`) in that language and that Meta approved
  (`approve`, or `auto_approve`); otherwise error 132001. Its body parameters must number
  the template's placeholders (132000). A marketing template to a customer who stopped
  marketing messages (`stop_marketing`) is refused with 131050.
`GET /{waba_id}/message_templates` lists the business's templates with their status.
A message goes `to` a number or to a `recipient`'s business-scoped user id (a username
user), as the Cloud API takes either. A body with `"status": "read"` is a read receipt
(with `typing_indicator`, the typing indicator too): recorded in `read_receipts`, answered
`{"success": true}`, never a message. Media are served as Graph API serves them:
`GET [/<version>]/{media-id}` answers `{"url", "mime_type", "sha256", "file_size", "id"}`
and that url answers the bytes, both only with the access token (`add_media` stores one).

Inspection: `GET /_messages[?to=<wa_id>]` lists accepted messages as
`{"messages": [{"id", "phone_number_id", "to", "payload"}]}`; `POST /_script` with
`{"status", "code", "times"}` scripts failures from another process; `POST /_inbound`
with `{"from", "timestamp"?}` records a customer's message; `POST /_templates/approve` with
`{"name", "language", "status"?}` gives Meta's verdict."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import sys
import threading
import time
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


WINDOW = dt.timedelta(hours=24)
OUTSIDE_WINDOW = 131047
MARKETING_STOPPED = 131050
PARAMETER_MISMATCH = 132000
TEMPLATE_MISSING = 132001
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


@dataclass
class FakeTemplate:
    id: str
    waba_id: str
    name: str
    language: str
    category: str
    components: list[dict[str, Any]]
    status: str = "PENDING"
    rejected_reason: str = "NONE"

    @property
    def body_placeholders(self) -> int:
        for component in self.components:
            if str(component.get("type", "")).upper() == "BODY":
                return len(set(_PLACEHOLDER.findall(str(component.get("text", "")))))
        return 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "status": self.status,
            "rejected_reason": self.rejected_reason,
            "components": self.components,
        }


class _Refusal(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ReadReceipt:
    phone_number_id: str
    message_id: str
    typing: bool  # the typing indicator was asked for too


@dataclass
class _Media:
    data: bytes
    mime_type: str


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
    # Outside the window unless heard from (True), or only when heard from too long ago.
    strict_window: bool = False
    auto_approve: bool = False
    clock: Any = field(default=lambda: dt.datetime.now(dt.UTC))
    templates: dict[tuple[str, str], FakeTemplate] = field(default_factory=dict)
    _last_inbound: dict[str, dt.datetime] = field(default_factory=dict)
    _marketing_stopped: set[str] = field(default_factory=set)
    read_receipts: list[ReadReceipt] = field(default_factory=list)
    media_downloads: list[str] = field(default_factory=list)  # media ids fetched
    read_receipt_delay_s: float = 0.0  # a slow answer to read receipts
    _media: dict[str, _Media] = field(default_factory=dict)
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

    def customer_wrote(self, wa_id: str, at: dt.datetime | None = None) -> None:
        """The customer sent the business a message at `at` (now): their window opens."""
        with self._lock:
            self._last_inbound[wa_id.lstrip("+")] = at or self.clock()

    def stop_marketing(self, wa_id: str) -> None:
        """The customer chose to stop the business's marketing messages in WhatsApp."""
        with self._lock:
            self._marketing_stopped.add(wa_id.lstrip("+"))

    def approve(self, name: str, language: str, status: str = "APPROVED") -> None:
        """Meta's verdict on a created template (APPROVED, REJECTED, PAUSED, ...)."""
        with self._lock:
            self.templates[(name, language)].status = status

    def add_template(
        self,
        name: str,
        language: str,
        *,
        body: str = "",
        category: str = "UTILITY",
        status: str = "APPROVED",
        waba_id: str = "",
    ) -> FakeTemplate:
        """A template that already exists in the business account."""
        with self._lock:
            template = FakeTemplate(
                id=str(900000 + len(self.templates) + 1),
                waba_id=waba_id,
                name=name,
                language=language,
                category=category,
                components=[{"type": "BODY", "text": body}],
                status=status,
            )
            self.templates[(name, language)] = template
            return template

    def add_media(self, media_id: str, data: bytes, mime_type: str = "audio/ogg") -> None:
        """A customer's media, as WhatsApp keeps it for download."""
        with self._lock:
            self._media[media_id] = _Media(data, mime_type)

    def sent_to(self, wa_id: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.to == wa_id.lstrip("+")]

    def texts_to(self, wa_id: str) -> list[str]:
        return [_readable(m.payload) for m in self.sent_to(wa_id)]

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.requests.clear()
            self.read_receipts.clear()
            self._failures.clear()
            self._last_inbound.clear()

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
        parts = [p for p in parsed.path.split("/") if p]
        if parts and parts[-1] == "message_templates" and len(parts) >= 2:
            waba = parts[-2]
            with self._lock:
                data = [t.as_dict() for t in self.templates.values() if t.waba_id == waba]
            self._reply(handler, 200, {"data": data, "paging": {}})
            return
        if parsed.path.rstrip("/") != "/_messages":
            self._get_media(handler, parsed.path)
            return
        to = urllib.parse.parse_qs(parsed.query).get("to", [None])[0]
        with self._lock:
            chosen = [m for m in self.sent if to is None or m.to == to.lstrip("+")]
            self._reply(handler, 200, {"messages": [m.as_dict() for m in chosen]})

    def _get_media(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        """`/{media-id}`: the media's url and facts; `/_media/{media-id}`: its bytes."""
        parts = [p for p in path.split("/") if p]
        if not (handler.headers.get("Authorization") or "").startswith("Bearer "):
            self._reply(
                handler,
                401,
                {
                    "error": {
                        "message": "access token required",
                        "type": "OAuthException",
                        "code": 190,
                    }
                },
            )
            return
        media_id = parts[-1] if parts else ""
        with self._lock:
            media = self._media.get(media_id)
        if media is None:
            self._reply(
                handler,
                404,
                {
                    "error": {
                        "message": f"unknown media {media_id}",
                        "type": "OAuthException",
                        "code": 100,
                    }
                },
            )
            return
        if len(parts) >= 2 and parts[-2] == "_media":
            with self._lock:
                self.media_downloads.append(media_id)
            handler.send_response(200)
            handler.send_header("Content-Type", media.mime_type)
            handler.send_header("Content-Length", str(len(media.data)))
            handler.end_headers()
            handler.wfile.write(media.data)
            return
        self._reply(
            handler,
            200,
            {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/_media/{media_id}",
                "mime_type": media.mime_type,
                "sha256": hashlib.sha256(media.data).hexdigest(),
                "file_size": len(media.data),
                "id": media_id,
            },
        )

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
        if path.rstrip("/") in ("/_inbound", "/_templates/approve"):
            self._control(handler, path.rstrip("/"), json.loads(body or b"{}"))
            return
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[-1] == "message_templates":
            self._create_template(handler, parts[-2], body)
            return
        with self._lock:
            self.requests.append(RecordedRequest("POST", path, body, dict(handler.headers.items())))
            failure = self._failures.pop(0) if self._failures else None
        if len(parts) < 2 or parts[-1] != "messages":
            self._reply(handler, 404, {"error": {"message": f"unknown path {path}", "code": 100}})
            return
        try:
            payload = json.loads(body)
            if payload.get("status") == "read":
                self._read_receipt(handler, parts[-2], payload)
                return
            to = str(payload.get("to") or payload["recipient"])
        except (ValueError, KeyError, TypeError, AttributeError):
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
        try:
            self._check_rules(payload)
        except _Refusal as refusal:
            self._reply(
                handler,
                400,
                {
                    "error": {
                        "message": refusal.message,
                        "type": "OAuthException",
                        "code": refusal.code,
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
                "contacts": [
                    {"input": to, "wa_id": to.lstrip("+")}
                    if payload.get("to")
                    else {"input": to, "user_id": to}
                ],
                "messages": [{"id": message.id}],
            },
        )

    def _check_rules(self, payload: dict[str, Any]) -> None:
        to = str(payload.get("to", "")).lstrip("+")
        with self._lock:
            if payload.get("type") == "template":
                self._check_template(to, payload.get("template") or {})
                return
            last = self._last_inbound.get(to)
        if last is None and not self.strict_window:
            return
        if last is None or self.clock() - last > WINDOW:
            raise _Refusal(
                OUTSIDE_WINDOW,
                "Re-engagement message: more than 24 hours have passed since the "
                "recipient last replied to the sender number",
            )

    def _check_template(self, to: str, spec: dict[str, Any]) -> None:
        name = str(spec.get("name", ""))
        language = str((spec.get("language") or {}).get("code", ""))
        template = self.templates.get((name, language))
        if template is None or template.status != "APPROVED":
            raise _Refusal(TEMPLATE_MISSING, f"template name ({name}) does not exist in {language}")
        if template.category == "MARKETING" and to in self._marketing_stopped:
            raise _Refusal(MARKETING_STOPPED, "the recipient stopped marketing messages")
        given = 0
        for component in spec.get("components") or []:
            if component.get("type") == "body":
                given = len(component.get("parameters") or [])
        if given != template.body_placeholders:
            raise _Refusal(
                PARAMETER_MISMATCH,
                f"number of parameters ({given}) does not match the expected number "
                f"({template.body_placeholders})",
            )

    def _create_template(self, handler: BaseHTTPRequestHandler, waba: str, body: bytes) -> None:
        try:
            spec = json.loads(body)
            name, language = str(spec["name"]), str(spec["language"])
            category = str(spec["category"]).upper()
            components = list(spec.get("components") or [])
        except (ValueError, KeyError, TypeError):
            self._reply(handler, 400, {"error": {"message": "invalid template", "code": 100}})
            return
        if not re.fullmatch(r"[a-z0-9_]{1,512}", name) or category not in (
            "UTILITY",
            "MARKETING",
            "AUTHENTICATION",
        ):
            self._reply(handler, 400, {"error": {"message": "invalid parameter", "code": 100}})
            return
        with self._lock:
            existing = self.templates.get((name, language))
            template = FakeTemplate(
                id=existing.id if existing else str(900000 + len(self.templates) + 1),
                waba_id=waba,
                name=name,
                language=language,
                category=category,
                components=components,
                status="APPROVED" if self.auto_approve else "PENDING",
            )
            self.templates[(name, language)] = template
        self._reply(
            handler, 200, {"id": template.id, "status": template.status, "category": category}
        )

    def _control(self, handler: BaseHTTPRequestHandler, path: str, spec: dict[str, Any]) -> None:
        if path == "/_inbound":
            at = spec.get("timestamp")
            self.customer_wrote(
                str(spec.get("from", "")),
                dt.datetime.fromtimestamp(float(at), dt.UTC) if at else None,
            )
        else:
            try:
                self.approve(
                    str(spec["name"]), str(spec["language"]), str(spec.get("status", "APPROVED"))
                )
            except KeyError:
                self._reply(handler, 404, {"error": {"message": "no such template", "code": 100}})
                return
        self._reply(handler, 200, {"ok": True})

    def _read_receipt(
        self, handler: BaseHTTPRequestHandler, phone_number_id: str, payload: dict[str, Any]
    ) -> None:
        if self.read_receipt_delay_s:
            time.sleep(self.read_receipt_delay_s)
        message_id = payload.get("message_id")
        indicator = payload.get("typing_indicator")
        if not isinstance(message_id, str) or (
            indicator is not None and indicator != {"type": "text"}
        ):
            self._reply(handler, 400, {"error": {"message": "invalid read receipt", "code": 100}})
            return
        with self._lock:
            self.read_receipts.append(
                ReadReceipt(phone_number_id, message_id, typing=indicator is not None)
            )
        self._reply(handler, 200, {"success": True})

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
    if kind == "template":
        template = payload.get("template") or {}
        values = [
            str(p.get("text", ""))
            for c in template.get("components") or []
            if c.get("type") == "body"
            for p in c.get("parameters") or []
        ]
        return f"[template {template.get('name', '?')}] " + " | ".join(values)
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
