"""POST and GET /webhook over in-memory stores: status codes Meta acts on, and properties
over random and mutated requests (never a 5xx or an exception from bad input, never an
enqueue without a valid signature)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salonbot.inbound.http import WebhookEndpoint, WebhookSecrets
from salonbot.inbound.intake import WebhookIntake
from salonbot.whatsapp.events import InboundMessage, QueueEnvelope
from salonbot.whatsapp.signature import sign
from tests.conftest import REPO_ROOT
from tests.fakes.meta_webhook import (
    APP_SECRET,
    NOW,
    VERIFY_TOKEN,
    MemoryQueue,
    MemorySeenMessages,
    body_of,
    change_value,
    message,
    payload,
    post_event,
    status,
    text_payload,
    verify_event,
)


class Stack:
    def __init__(self, *, max_body_bytes: int = 3 * 1024 * 1024) -> None:
        self.queue = MemoryQueue()
        self.seen = MemorySeenMessages()
        intake = WebhookIntake(
            seen=self.seen, queue=self.queue, max_message_age_s=86_400, clock=lambda: NOW
        )
        self.endpoint = WebhookEndpoint(
            intake=lambda: intake,
            secrets=lambda: WebhookSecrets(APP_SECRET, VERIFY_TOKEN),
            max_body_bytes=max_body_bytes,
        )

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.endpoint.handle(event)


def test_meta_verification_echoes_the_challenge_as_plain_text() -> None:
    stack = Stack()
    ok = stack.handle(
        verify_event(f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444")
    )
    assert (ok["statusCode"], ok["body"]) == (200, "1158201444")
    assert ok["headers"]["Content-Type"] == "text/plain"
    for query in (
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        f"hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1",
        "hub.challenge=1",
        "",
    ):
        refused = stack.handle(verify_event(query))
        assert refused["statusCode"] == 403, query
        assert "1" not in refused["body"]


def test_a_signed_text_message_is_enqueued_and_acked() -> None:
    stack = Stack()
    answer = stack.handle(post_event(body_of(text_payload("wamid.A"))))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["enqueued"] == 1
    (sent,) = stack.queue.sent
    envelope = QueueEnvelope.model_validate_json(sent.body)
    assert envelope.event.message_id == "wamid.A"
    assert (sent.group_id, sent.deduplication_id) == ("100000000000001:79001234567", "wamid.A")
    assert stack.seen.records == {"wamid#wamid.A": "COMPLETED"}


def test_base64_bodies_are_checked_on_their_decoded_bytes() -> None:
    stack = Stack()
    body = body_of(text_payload("wamid.B64"))
    event = post_event(body)
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    assert stack.handle(event)["statusCode"] == 200
    event["body"] = "%%% not base64"
    assert stack.handle(event)["statusCode"] == 400
    assert len(stack.queue.sent) == 1


@pytest.mark.parametrize(
    ("event", "status_code"),
    [
        (post_event(body_of(text_payload()), secret=None), 401),
        (post_event(body_of(text_payload()), secret="not-the-app-secret"), 401),
        (post_event(body_of(text_payload()), signature="sha256=" + "0" * 64), 401),
        (post_event(body_of(text_payload()), content_type="text/plain"), 415),
        (
            post_event(body_of(text_payload()), content_type="application/x-www-form-urlencoded"),
            415,
        ),
        (post_event(b"{not json"), 400),
        (post_event(b'{"object": "page", "entry": []}'), 400),
        (post_event(b""), 400),
    ],
)
def test_bad_requests_get_a_4xx_and_enqueue_nothing(
    event: dict[str, Any], status_code: int
) -> None:
    stack = Stack()
    answer = stack.handle(event)
    assert answer["statusCode"] == status_code
    assert "Traceback" not in answer["body"] and APP_SECRET not in answer["body"]
    assert stack.queue.sent == [] and stack.seen.records == {}


def test_bodies_over_the_limit_get_413_before_anything_else() -> None:
    stack = Stack(max_body_bytes=4096)
    big = payload(change_value([message(content={"body": "я" * 3000})]))
    assert stack.handle(post_event(body_of(big)))["statusCode"] == 413
    assert stack.handle(post_event(body_of(big), secret=None))["statusCode"] == 413
    assert stack.queue.sent == []


def test_json_content_type_with_charset_is_accepted() -> None:
    stack = Stack()
    event = post_event(body_of(text_payload()), content_type="application/json; charset=utf-8")
    assert stack.handle(event)["statusCode"] == 200


def test_other_methods_and_missing_secrets() -> None:
    stack = Stack()
    event = post_event(body_of(text_payload()))
    event["requestContext"]["http"]["method"] = "PUT"
    assert stack.handle(event)["statusCode"] == 405
    unconfigured = WebhookEndpoint(
        intake=lambda: pytest.fail("no intake without a secret"),
        secrets=lambda: WebhookSecrets(None, None),
    )
    answer = unconfigured.handle(post_event(body_of(text_payload())))
    assert answer["statusCode"] == 500 and "Traceback" not in answer["body"]
    assert unconfigured.handle(verify_event("hub.mode=subscribe"))["statusCode"] == 500


def test_statuses_are_enqueued_without_a_seen_record() -> None:
    stack = Stack()
    body = body_of(payload(change_value(statuses=[status("sent"), status("delivered")])))
    assert stack.handle(post_event(body))["statusCode"] == 200
    assert [m.deduplication_id for m in stack.queue.sent] == [
        "wamid.OUTGOING1:sent",
        "wamid.OUTGOING1:delivered",
    ]
    assert stack.seen.records == {}


def test_the_same_id_twice_in_one_post_is_enqueued_once() -> None:
    stack = Stack()
    body = body_of(payload(change_value([message(message_id="x"), message(message_id="x")])))
    answer = json.loads(stack.handle(post_event(body))["body"])
    assert (answer["enqueued"], answer["duplicates"]) == (1, 1)


# Properties over random requests.
json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=15,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A POST whose body is a real payload, a mutated one, JSON or bytes; signed
    correctly or not. Returns the event and whether its signature is valid."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        data: Any = payload(
            change_value(
                [message(message_id=draw(st.text(min_size=1, max_size=30)))],
                [status(draw(st.sampled_from(["sent", "read", "failed"])))],
            )
        )
        body = body_of(data)
    elif kind == 1:
        data = payload(change_value([message(draw(st.text(max_size=10)), draw(json_text))]))
        body = body_of(data)
    elif kind == 2:
        body = json.dumps(draw(json_text)).encode()
    else:
        body = draw(st.binary(max_size=200))
    signing = draw(st.sampled_from(["valid", "none", "wrong", "random"]))
    if signing == "valid":
        event = post_event(body)
    elif signing == "none":
        event = post_event(body, secret=None)
    elif signing == "wrong":
        event = post_event(body, secret="wrong")
    else:
        event = post_event(body, signature=draw(st.text(max_size=80)))
    event["headers"] = {
        **event["headers"],
        **draw(st.dictionaries(st.sampled_from(["content-type", "x-other"]), st.text(max_size=30))),
    }
    if draw(st.booleans()) and not isinstance(event.get("body"), type(None)):
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event, sign(body, APP_SECRET) == event["headers"].get("x-hub-signature-256")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_any_request_gets_2xx_or_4xx_and_only_signed_ones_enqueue(
    request: tuple[dict[str, Any], bool],
) -> None:
    event, signed = request
    stack = Stack()
    answer = stack.handle(event)
    assert 200 <= answer["statusCode"] < 500, answer
    if not signed:
        assert answer["statusCode"] >= 400
        assert stack.queue.sent == [] and stack.seen.records == {}
    if answer["statusCode"] >= 400:
        assert stack.queue.sent == []


def test_the_webhook_imports_neither_openai_nor_psycopg_nor_the_xray_sdk_nor_pydantic() -> None:
    code = (
        "import runpy, sys; "
        "sys.path[:0] = ['layers/common']; "
        "runpy.run_path('functions/webhook/app.py'); "
        "print(sorted(m for m in ('openai', 'psycopg', 'aws_xray_sdk', 'salonbot.db', "
        "'pydantic', 'pydantic_core', 'salonbot.config') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_a_message_over_the_queue_s_size_limit_is_trimmed_not_lost() -> None:
    stack = Stack()
    long_text = message(message_id="wamid.LONG", content={"body": "я" * 200_000})
    big_media = message("document", {"id": "d1", "caption": "файл", "pages": ["x" * 300_000]})
    big_media["id"] = "wamid.BIG"
    body = body_of(payload(change_value([long_text, big_media])))
    assert stack.handle(post_event(body))["statusCode"] == 200
    text, media = (QueueEnvelope.model_validate_json(m.body).event for m in stack.queue.sent)
    assert all(len(m.body.encode()) < 256 * 1024 for m in stack.queue.sent)
    assert isinstance(text, InboundMessage) and isinstance(media, InboundMessage)
    assert (text.message_id, text.text, text.payload) == (
        "wamid.LONG",
        "я" * 4096,
        {"trimmed": True},
    )
    assert (text.contact_name, text.wa_id) == ("Анна", "79001234567")
    assert (media.message_id, media.text, media.payload) == ("wamid.BIG", "файл", {"trimmed": True})
