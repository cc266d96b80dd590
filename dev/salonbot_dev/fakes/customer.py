"""A customer's phone, as Meta's webhook sees it: inbound payloads (text, list and button
replies), signed like Meta signs them, posted to the local gateway; and the salon's
outgoing Cloud API messages rendered for a terminal (choices numbered)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from salonbot.whatsapp.identity import is_user_id

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header value Meta sends: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Choice:
    """An option of an interactive message the customer can tap."""

    id: str
    title: str
    description: str | None = None
    kind: str = "list_reply"  # or button_reply, or button (a template's quick reply)


@dataclass(frozen=True)
class Reply:
    """One outgoing message of the salon, as the customer's phone shows it."""

    text: str
    choices: tuple[Choice, ...] = ()
    message_id: str = ""

    def render(self) -> str:
        lines = [self.text]
        for number, choice in enumerate(self.choices, start=1):
            suffix = f" — {choice.description}" if choice.description else ""
            lines.append(f"  {number}. {choice.title}{suffix}")
        return "\n".join(lines)


def reply_from_payload(payload: dict[str, Any], message_id: str = "") -> Reply:
    """A Cloud API `POST /{phone_number_id}/messages` body as the phone shows it."""
    kind = payload.get("type")
    if kind == "text":
        return Reply(str(payload["text"]["body"]), message_id=message_id)
    if kind == "interactive":
        interactive = payload["interactive"]
        text = str(interactive.get("body", {}).get("text", ""))
        action = interactive.get("action", {})
        choices: list[Choice] = []
        if interactive.get("type") == "list":
            for section in action.get("sections", []):
                choices.extend(
                    Choice(row["id"], row["title"], row.get("description"), "list_reply")
                    for row in section.get("rows", [])
                )
        elif interactive.get("type") == "button":
            choices.extend(
                Choice(b["reply"]["id"], b["reply"]["title"], None, "button_reply")
                for b in action.get("buttons", [])
            )
        return Reply(text, tuple(choices), message_id)
    if kind == "template":
        return _template_reply(payload.get("template") or {}, message_id)
    return Reply(f"[{kind} message]", (), message_id)


def _template_reply(template: dict[str, Any], message_id: str) -> Reply:
    """A template message: its name and body parameters, and its quick-reply buttons
    (titled by their payload's action: the template's own titles are Meta's copy)."""
    values: list[str] = []
    choices: list[Choice] = []
    for component in template.get("components") or []:
        parameters = component.get("parameters") or []
        if component.get("type") == "body":
            values.extend(str(p.get("text", "")) for p in parameters)
        elif component.get("sub_type") == "quick_reply" and parameters:
            payload = str(parameters[0].get("payload", ""))
            title = payload.split(":")[1] if payload.count(":") >= 2 else payload
            choices.append(Choice(payload, title.capitalize(), None, "button"))
    text = f"[template {template.get('name', '?')}] " + " | ".join(values)
    return Reply(text.strip(), tuple(choices), message_id)


_sequence = itertools.count(1)


@dataclass
class CustomerPhone:
    """Sends a customer's messages to the salon's webhook as Meta would."""

    gateway_url: str
    app_secret: str
    phone_number_id: str  # the salon's WhatsApp number id
    customer_phone: str = "+79001234567"
    name: str = "Local customer"
    display_phone_number: str = "+7 900 000-00-01"
    last_body: bytes = field(default=b"", repr=False)

    @property
    def wa_id(self) -> str:
        return self.customer_phone.lstrip("+")

    @property
    def _sender(self) -> dict[str, str]:
        """A number is `from`; a WhatsApp user id (a username user) is `from_user_id`."""
        if is_user_id(self.wa_id):
            return {"from_user_id": self.wa_id}
        return {"from": self.wa_id}

    @property
    def _contact(self) -> dict[str, Any]:
        who = {"user_id": self.wa_id} if is_user_id(self.wa_id) else {"wa_id": self.wa_id}
        return {"profile": {"name": self.name}, **who}

    def _message(self, kind: str, content: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._sender,
            "id": f"wamid.local.{uuid.uuid4().hex}{next(_sequence)}",
            "timestamp": str(int(time.time())),
            "type": kind,
            kind: content,
        }

    def payload(self, message: dict[str, Any]) -> dict[str, Any]:
        """The webhook body Meta posts for one inbound message."""
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "100000000000000",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": self.phone_number_id,
                                },
                                "contacts": [self._contact],
                                "messages": [message],
                            },
                        }
                    ],
                }
            ],
        }

    def text_payload(self, text: str) -> dict[str, Any]:
        return self.payload(self._message("text", {"body": text}))

    def choice_payload(self, choice: Choice) -> dict[str, Any]:
        if choice.kind == "button":  # a template's quick reply, as Meta sends its tap
            return self.payload(
                self._message("button", {"payload": choice.id, "text": choice.title})
            )
        reply: dict[str, Any] = {"id": choice.id, "title": choice.title}
        if choice.description and choice.kind == "list_reply":
            reply["description"] = choice.description
        return self.payload(self._message("interactive", {"type": choice.kind, choice.kind: reply}))

    def post(self, payload: dict[str, Any]) -> int:
        """POST the payload, signed; returns the HTTP status (Meta retries a non-2xx)."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return self.post_raw(body)

    def post_raw(self, body: bytes) -> int:
        self.last_body = body
        request = urllib.request.Request(
            f"{self.gateway_url}/webhook",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self.app_secret),
                "User-Agent": "facebookexternalua",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status: int = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        return status

    def media_payload(self, kind: str) -> dict[str, Any]:
        """A voice note, a sticker or a location as Meta posts them ("audio" with
        `voice: true`, "sticker", "location")."""
        media_id = f"{uuid.uuid4().int % 10**15:015d}"
        contents: dict[str, dict[str, Any]] = {
            "audio": {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": hashlib.sha256(media_id.encode()).hexdigest(),
                "id": media_id,
                "voice": True,
            },
            "sticker": {
                "mime_type": "image/webp",
                "sha256": hashlib.sha256(media_id.encode()).hexdigest(),
                "id": media_id,
                "animated": False,
            },
            "location": {
                "latitude": 55.7575,
                "longitude": 37.6137,
                "name": "Тверская улица",
                "address": "Тверская ул., Москва",
            },
        }
        if kind not in contents:
            raise ValueError(f"no such message kind {kind!r} (audio, sticker, location)")
        return self.payload(self._message(kind, contents[kind]))

    def send_text(self, text: str) -> int:
        return self.post(self.text_payload(text))

    def send_media(self, kind: str) -> int:
        return self.post(self.media_payload(kind))

    def choose(self, choice: Choice) -> int:
        return self.post(self.choice_payload(choice))
