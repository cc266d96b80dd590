"""The local stack end to end, started as `make dev` starts it: a customer books through
signed webhooks (guided flow, no OpenAI key), the booking is in PostgreSQL, the replies
are at the fake WhatsApp send API, a redelivered webhook gets no second reply, the
deployment guide's curl lines work, and stopping leaves nothing behind."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from salonbot_dev.fakes.conversation import Conversation, Outbox
from salonbot_dev.fakes.customer import CustomerPhone
from salonbot_dev.local.demo import find_booking, play
from salonbot_dev.local.state import StackAddresses
from tests.conftest import DEMO_SALON_ID
from tests.e2e.stack_process import StackProcess

pytestmark = pytest.mark.e2e

CUSTOMER = "+79005550101"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    process = StackProcess(tmp_path_factory.mktemp("local") / "state")
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        process.stop()


@pytest.fixture(scope="module")
def addresses(stack: StackProcess) -> StackAddresses:
    assert stack.addresses is not None
    return stack.addresses


def http(url: str, *, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def test_a_customer_books_and_a_redelivery_gets_no_second_reply(
    stack: StackProcess, addresses: StackAddresses
) -> None:
    assert addresses.demo_phone_number_id is not None
    phone = CustomerPhone(
        addresses.gateway_url, addresses.app_secret, addresses.demo_phone_number_id, CUSTOMER
    )
    conversation = Conversation(phone, Outbox(addresses.whatsapp_url))

    # When the customer asks for a manicure and answers the salon's choices
    result = play(
        conversation,
        lambda: find_booking(addresses.database_url, str(DEMO_SALON_ID), CUSTOMER),
    )

    # Then the booking is in PostgreSQL
    booking = result.booking
    assert booking is not None, stack.output() + "\n" + json.dumps(result.transcript)
    assert booking["status"] == "confirmed" and booking["phone"] == CUSTOMER
    assert "аникюр" in booking["service"]
    # and the salon's last reply at the send API names its code
    salon_lines = [text for who, text in result.transcript if who == "salon"]
    assert booking["code"] in salon_lines[-1]

    # When Meta delivers the last webhook again, then the customer writes once more
    confirmation = salon_lines[-1]
    assert phone.post_raw(phone.last_body) == 200
    replies = conversation.say("Спасибо!")
    # Then (per-customer order puts the redelivery first) no reply repeats the confirmation
    assert all(reply.render() != confirmation for reply in replies)
    with psycopg.connect(addresses.database_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM bookings b JOIN clients c ON c.id = b.client_id "
            "WHERE c.phone = %s",
            (CUSTOMER,),
        ).fetchone()
    assert count == (1,)


def test_the_unsigned_webhook_is_refused(addresses: StackAddresses) -> None:
    phone = CustomerPhone(
        addresses.gateway_url, "not-the-app-secret", addresses.demo_phone_number_id or "", CUSTOMER
    )
    assert phone.send_text("Привет") in (401, 403)


def test_meta_verification_echoes_the_challenge(addresses: StackAddresses) -> None:
    status, body = http(
        f"{addresses.gateway_url}/webhook?hub.mode=subscribe"
        f"&hub.verify_token={addresses.verify_token}&hub.challenge=1158201444"
    )
    assert (status, body) == (200, b"1158201444")


def test_the_deployment_guides_curl_lines(addresses: StackAddresses) -> None:
    # curl http://localhost:3000/api/v1/ai/health
    status, body = http(f"{addresses.gateway_url}/api/v1/ai/health")
    health = json.loads(body)
    assert status == 200
    assert (health["status"], health["service"], health["openai"]) == (
        "ok",
        "ai",
        "not_configured",
    )
    # curl -X POST .../api/v1/ai/process-message with the demo salon's id
    status, body = http(
        f"{addresses.gateway_url}/api/v1/ai/process-message",
        body={
            "salon_id": str(DEMO_SALON_ID),
            "phone_number": "+79001234567",
            "message": "Привет! Хочу записаться на маникюр",
            "conversation_id": "test_conv_001",
        },
    )
    answer = json.loads(body)
    assert status == 200
    assert answer["response"]
    assert {"tokens_used", "cost", "response_time_ms", "model"} <= set(answer)


def test_stopping_leaves_nothing_behind(stack: StackProcess) -> None:
    # Runs last in this module: stop the stack as Ctrl-C does
    assert stack.stop(signal.SIGINT) == 0, stack.output()
    assert stack.leftovers() == [], stack.output()
    assert Path(stack.state_dir / "pgdata" / "PG_VERSION").exists()
