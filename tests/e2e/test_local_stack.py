"""The local stack end to end, started as `make dev` starts it: a customer books through
signed webhooks (guided flow, no OpenAI key), the booking is in PostgreSQL, the replies
are at the fake WhatsApp send API, a redelivered webhook gets no second reply, the
deployment guide's curl lines work with a token from `salonbot token`, the gateway
refuses what API Gateway would (no token, a bad or expired one, another salon's, one
without the route's scope), a retried request with its Idempotency-Key gets the first
answer, and stopping leaves nothing behind."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from salonbot_dev.fakes.conversation import Conversation, Outbox
from salonbot_dev.fakes.customer import CustomerPhone
from salonbot_dev.local.demo import find_booking, play
from salonbot_dev.local.issuer import LocalIssuer
from salonbot_dev.local.state import StackAddresses
from tests.conftest import DEMO_SALON_ID
from tests.e2e.stack_process import REPO_ROOT, SALONBOT, StackProcess

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


def http(
    url: str, *, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    sent = {"Content-Type": "application/json"} if data else {}
    request = urllib.request.Request(url, data=data, headers={**sent, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def salonbot_token(stack: StackProcess, *args: str) -> str:
    """`salonbot token ...` as a developer runs it beside `make dev`."""
    done = subprocess.run(
        [str(SALONBOT), "token", *args],
        cwd=REPO_ROOT,
        env=stack.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


GUIDE_REQUEST = {
    "salon_id": str(DEMO_SALON_ID),
    "phone_number": "+79001234567",
    "message": "Привет! Хочу записаться на маникюр",
    "conversation_id": "test_conv_001",
}
OTHER_SALON = "3f0c1a52-0000-4000-8000-0000000000b1"


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


def test_the_deployment_guides_curl_lines(stack: StackProcess, addresses: StackAddresses) -> None:
    # curl http://localhost:3000/api/v1/ai/health
    status, body = http(f"{addresses.gateway_url}/api/v1/ai/health")
    health = json.loads(body)
    assert status == 200
    assert (health["status"], health["service"], health["openai"]) == (
        "ok",
        "ai",
        "not_configured",
    )
    # curl -X POST .../api/v1/ai/process-message with the demo salon's id and
    # -H "Authorization: Bearer $(salonbot token --salon <id> --scope ai:write)"
    token = salonbot_token(stack, "--salon", str(DEMO_SALON_ID), "--scope", "ai:write")
    status, body = http(
        f"{addresses.gateway_url}/api/v1/ai/process-message",
        body=GUIDE_REQUEST,
        headers=bearer(token),
    )
    answer = json.loads(body)
    assert status == 200, answer
    assert answer["response"]
    assert {"tokens_used", "cost", "response_time_ms", "model"} <= set(answer)
    # curl ".../api/v1/ai/stats?salon_id=<id>" with an ai:read token
    reader = salonbot_token(stack, "--salon", str(DEMO_SALON_ID), "--scope", "ai:read")
    status, body = http(
        f"{addresses.gateway_url}/api/v1/ai/stats?salon_id={DEMO_SALON_ID}",
        headers=bearer(reader),
    )
    assert status == 200 and json.loads(body)["salon_id"] == str(DEMO_SALON_ID)


def test_the_gateway_and_the_function_wall_the_tenants(
    stack: StackProcess, addresses: StackAddresses
) -> None:
    process = f"{addresses.gateway_url}/api/v1/ai/process-message"
    stats = f"{addresses.gateway_url}/api/v1/ai/stats?salon_id={DEMO_SALON_ID}"
    unauthorized = (401, {"message": "Unauthorized"})
    # No token: the gateway's 401
    for url, body in ((process, GUIDE_REQUEST), (stats, None)):
        status, raw = http(url, body=body)
        assert (status, json.loads(raw)) == unauthorized
    # Expired, signed by a stranger's key, for another audience: 401
    issuer = LocalIssuer.in_folder(stack.state_dir)
    stranger = LocalIssuer.in_folder(stack.state_dir / "stranger")
    common: dict[str, Any] = {"salons": [DEMO_SALON_ID], "scopes": ["ai:write", "ai:read"]}
    for signer, changes in [
        (issuer, {"now": time.time() - 7200}),
        (stranger, {}),
        (issuer, {"audience": "another-api"}),
    ]:
        options = {"issuer": "https://auth.example.com/", "audience": "salonbot-api", **common}
        refused = signer.issue(**{**options, **changes})
        status, raw = http(process, body=GUIDE_REQUEST, headers=bearer(refused))
        assert (status, json.loads(raw)) == unauthorized, changes
    # Without the route's scope: the gateway's 403
    reader = salonbot_token(stack, "--salon", str(DEMO_SALON_ID), "--scope", "ai:read")
    status, raw = http(process, body=GUIDE_REQUEST, headers=bearer(reader))
    assert (status, json.loads(raw)) == (403, {"message": "Forbidden"})
    # Another salon's valid token: the function's 403, naming no salon
    other = salonbot_token(
        stack, "--salon", OTHER_SALON, "--scope", "ai:write", "--scope", "ai:read"
    )
    for url, body in ((process, GUIDE_REQUEST), (stats, None)):
        status, raw = http(url, body=body, headers=bearer(other))
        assert status == 403
        assert json.loads(raw) == {
            "statusCode": 403,
            "message": "Forbidden: the token is not for this salon",
        }


def test_a_retry_with_its_idempotency_key_gets_the_first_answer(
    stack: StackProcess, addresses: StackAddresses
) -> None:
    process = f"{addresses.gateway_url}/api/v1/ai/process-message"
    token = salonbot_token(stack, "--salon", str(DEMO_SALON_ID), "--scope", "ai:write")
    request = {**GUIDE_REQUEST, "phone_number": "+79005550202"}
    keyed = {**bearer(token), "Idempotency-Key": "e2e-retry-1"}
    first = http(process, body=request, headers=keyed)
    again = http(process, body=request, headers=keyed)
    assert first[0] == 200 and again == first
    status, raw = http(process, body={**request, "message": "Отмена"}, headers=keyed)
    assert status == 422 and "Idempotency-Key" in json.loads(raw)["message"]
    with psycopg.connect(addresses.database_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM ai_messages m JOIN ai_conversations c "
            "ON c.id = m.conversation_id WHERE c.phone_number = %s AND m.role = 'user'",
            ("+79005550202",),
        ).fetchone()
    assert stored == (1,)


def test_stopping_leaves_nothing_behind(stack: StackProcess) -> None:
    # Runs last in this module: stop the stack as Ctrl-C does
    assert stack.stop(signal.SIGINT) == 0, stack.output()
    assert stack.leftovers() == [], stack.output()
    assert Path(stack.state_dir / "pgdata" / "PG_VERSION").exists()
