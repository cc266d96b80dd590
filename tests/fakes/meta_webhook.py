"""Meta's webhook as tests need it: payload builders for every message type and status,
signed HTTP API v2 events built by the local gateway's own code, and in-memory stand-ins
for the seen-ids table and the queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from salonbot.inbound.dedupe import Claim
from salonbot.inbound.enqueue import QueueMessage
from salonbot.whatsapp.signature import sign
from salonbot_dev.local.functions import HttpRoute
from salonbot_dev.local.http_api import Request, RouteMatch, build_event

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PHONE_NUMBER_ID = "100000000000001"
CUSTOMER = "79001234567"
NOW = 1_900_000_000.0  # 2030-03-17, a fixed clock


def message(
    kind: str = "text",
    content: Any = None,
    *,
    message_id: str = "wamid.HBgLNzkwMDEyMzQ1NjcVAgASGBQzQTRCQzE1RjYxMjA1RTA0RkQ0QgA=",
    sender: str = CUSTOMER,
    timestamp: float = NOW - 5,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": sender,
        "id": message_id,
        "timestamp": str(int(timestamp)),
        "type": kind,
    }
    if content is None and kind == "text":
        content = {"body": "Привет! Хочу записаться на маникюр"}
    if content is not None:
        body[kind] = content
    body.update(extra)
    return body


def status(
    state: str = "delivered",
    *,
    message_id: str = "wamid.OUTGOING1",
    recipient: str = CUSTOMER,
    timestamp: float = NOW - 5,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": message_id,
        "status": state,
        "timestamp": str(int(timestamp)),
        "recipient_id": recipient,
        "conversation": {"id": "c1", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
    }
    if errors is not None:
        body["errors"] = errors
    return body


def change_value(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "+7 900 000-00-01",
            "phone_number_id": phone_number_id,
        },
    }
    if messages is not None:
        value["contacts"] = (
            contacts if contacts is not None else [{"profile": {"name": "Анна"}, "wa_id": CUSTOMER}]
        )
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return value


def payload(*values: dict[str, Any], field_name: str = "messages") -> dict[str, Any]:
    """One entry with one change per value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "100000000000000",
                "changes": [{"field": field_name, "value": v} for v in values],
            }
        ],
    }


def text_payload(message_id: str = "wamid.T1", *, timestamp: float = NOW - 5) -> dict[str, Any]:
    return payload(change_value([message(message_id=message_id, timestamp=timestamp)]))


def body_of(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def post_event(
    body: bytes,
    *,
    secret: str | None = APP_SECRET,
    content_type: str = "application/json",
    signature: str | None = None,
) -> dict[str, Any]:
    """The HTTP API v2 event for a POST /webhook, as the local gateway builds it."""
    headers = [("Content-Type", content_type), ("User-Agent", "facebookexternalua")]
    if signature is not None:
        headers.append(("X-Hub-Signature-256", signature))
    elif secret is not None:
        headers.append(("X-Hub-Signature-256", sign(body, secret)))
    route = RouteMatch(HttpRoute("POST", "/webhook"), {})
    return build_event(Request("POST", "/webhook", headers, body), route)


def verify_event(query: str) -> dict[str, Any]:
    route = RouteMatch(HttpRoute("GET", "/webhook"), {})
    return build_event(Request("GET", f"/webhook?{query}", [], b""), route)


@dataclass
class MemorySeenMessages:
    """The seen-ids table in memory, with the DynamoDB version's states."""

    records: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    # Each customer's (message group's) latest message: (message id, sent at).
    latest: dict[str, tuple[str, int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_latest(
        self, phone_number_id: str, wa_id: str, message_id: str, timestamp: int, now: float
    ) -> None:
        group_id = f"{phone_number_id}:{wa_id}"
        with self.lock:
            known = self.latest.get(group_id)
            if known is None or known[1] <= timestamp:
                self.latest[group_id] = (message_id, timestamp)

    def claim(self, key: str, now: float, owner: str) -> Claim:
        with self.lock:
            state = self.records.get(key)
            if state is None:
                self.records[key] = "IN_PROGRESS"
                self.owners[key] = owner
                return Claim.CLAIMED
            return Claim.DUPLICATE if state == "COMPLETED" else Claim.BUSY

    def complete(self, key: str, now: float, owner: str) -> None:
        with self.lock:
            if self.owners.get(key) == owner:
                self.records[key] = "COMPLETED"

    def release(self, key: str, owner: str) -> None:
        with self.lock:
            if self.records.get(key) == "IN_PROGRESS" and self.owners.get(key) == owner:
                del self.records[key]
                del self.owners[key]


@dataclass
class MemoryQueue:
    sent: list[QueueMessage] = field(default_factory=list)

    def send(self, messages: Sequence[QueueMessage]) -> set[int]:
        self.sent.extend(messages)
        return set()
