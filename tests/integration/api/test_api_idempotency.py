"""`Idempotency-Key` on process-message: a retry (same salon, same key) gets the first
answer and books nothing twice, even while the first is still running (it waits a
little, then gets a 409); the key with another body is a 422; the key is the salon's own
(another salon's same key is another request). The message service is driven with the
fake model on the processor tests' fixed clock (a scripted booking), and the handler for
the header's plumbing."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from salonbot.api.messages import MessageService, ProcessedMessage
from salonbot.assistant.agent import LlmAgent, openai_client
from salonbot.assistant.fallback import FixedReply
from salonbot.assistant.router import AssistantRouter
from salonbot.config import Settings
from salonbot.cost.guard_protocol import UnlimitedSpend
from salonbot.db.connection import Connection, connect
from salonbot.errors import InvalidInput
from salonbot.processing.staff import StaffNotifier
from tests.conftest import DEMO_SALON_ID
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, Slow, ToolCall
from tests.integration.api.conftest import Api, token_claims
from tests.integration.processor.harness import CUSTOMER, Clock, import_demo_salon
from tests.integration.salon_builder import BERLIN_SALON_ID, berlin_salon

pytestmark = pytest.mark.integration

KEY = "0d9c7c1e-5b1f-4a37-9a0b-6c3e1e2f4a10"
BOOK_IT = "Запишите меня на маникюр 7 января в 12:00"


def book_and_confirm(delay_s: float = 0.0) -> list[Any]:
    def confirm(request: ModelRequest) -> Answer:
        booked = request.tool_result()["booked"]
        return Answer(f"Записали! Код {booked['code']}.")

    book = Answer(
        tool_calls=[ToolCall("book", {"service": "manicure", "start": "2030-01-07 12:00"})]
    )
    return [Slow(delay_s, book) if delay_s else book, confirm]


def service(settings: Settings, connection: Connection) -> MessageService:
    clock = Clock()
    client = openai_client(settings)
    agent = LlmAgent(client, settings, guard=UnlimitedSpend(), clock=clock) if client else None
    return MessageService(
        settings,
        assistant=AssistantRouter(agent=agent, fallback=FixedReply()),
        staff=StaffNotifier(None),
        connection=lambda: connection,
        clock=clock,
    )


@pytest.fixture
def settings(fake_openai: FakeOpenAI) -> Settings:
    return Settings(
        openai_api_key="sk-test-key-000000",
        openai_base_url=fake_openai.url,
        openai_timeout_s=5.0,
        openai_retry_base_s=0.01,
    )


def bookings(db: Connection) -> list[dict[str, Any]]:
    found = db.execute(
        "SELECT b.code, b.source_message_id FROM bookings b JOIN clients c ON c.id = b.client_id "
        "WHERE c.phone = %s",
        (CUSTOMER,),
    ).fetchall()
    db.commit()
    return found


def user_messages(db: Connection) -> int:
    count: int = db.execute("SELECT count(*) AS n FROM ai_messages WHERE role = 'user'").fetchone()[
        "n"
    ]
    db.commit()
    return count


def test_a_retry_gets_the_first_answer_and_books_once(
    db: Connection, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    import_demo_salon(db)
    messages = service(settings, db)
    fake_openai.add(*book_and_confirm())
    # Given a message that booked, sent with a key
    first = messages.process(DEMO_SALON_ID, CUSTOMER, BOOK_IT, idempotency_key=KEY)
    assert first.booking_code is not None and first.booking_code in (first.response or "")
    calls = len(fake_openai.requests)
    # When the caller retries it (its connection dropped before the answer came)
    again = messages.process(DEMO_SALON_ID, CUSTOMER, BOOK_IT, idempotency_key=KEY)
    # Then the same answer, marked as a replay, without a model call or a second booking
    assert again == ProcessedMessage(**{**first.__dict__, "replayed": True})
    assert len(fake_openai.requests) == calls
    (booking,) = bookings(db)
    assert booking["code"] == first.booking_code
    assert booking["source_message_id"] == f"api:{DEMO_SALON_ID}:{KEY}#0"
    assert user_messages(db) == 1


def test_a_retry_while_the_first_is_running_waits_for_its_answer(
    db: Connection, database_url: str, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    import_demo_salon(db)
    # The model takes a while over the first request; a retry arrives meanwhile
    fake_openai.add(*book_and_confirm(delay_s=0.5))
    answers: dict[str, ProcessedMessage] = {}

    def send(name: str) -> None:
        with connect(database_url) as conn:
            done = service(settings, conn).process(
                DEMO_SALON_ID, CUSTOMER, BOOK_IT, idempotency_key=KEY
            )
            answers[name] = done

    first = threading.Thread(target=send, args=("first",))
    first.start()
    deadline = time.monotonic() + 10
    while not fake_openai.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_openai.requests, "the first request never reached the model"
    retry = threading.Thread(target=send, args=("retry",))
    retry.start()
    first.join(30)
    retry.join(30)
    # Both got the one answer; one booking (an unscripted second turn would fail the test)
    assert answers["first"].booking_code is not None
    assert answers["retry"] == ProcessedMessage(**{**answers["first"].__dict__, "replayed": True})
    assert len(bookings(db)) == 1 and user_messages(db) == 1


def test_a_retry_past_the_wait_is_told_the_first_is_in_progress(
    api: Api, demo: uuid.UUID, db: Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from salonbot.api import idempotency

    monkeypatch.setattr(idempotency, "LOCK_WAIT_MS", 100)
    # Given a first request with the key that has claimed it and is not done
    with connect(database_url) as first:
        idempotency.claim(
            first,
            idempotency.message_id(DEMO_SALON_ID, KEY),
            salon_id=DEMO_SALON_ID,
            phone=CUSTOMER,
            received_at=Clock()(),
        )
        # When the retry comes: 409 with Retry-After, and no turn of its own
        reply = api.process(_body(), key=KEY)
        assert reply.status == 409, reply.body
        assert reply.headers["retry-after"] == "1"
        assert reply.body["message"].startswith("Conflict: a request with this Idempotency-Key")
        first.rollback()
    assert user_messages(db) == 0
    # Once the first is gone (it failed), the key is free
    assert api.process(_body(), key=KEY).status == 200


def test_the_key_with_another_body_is_refused_and_changes_nothing(
    db: Connection, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    import_demo_salon(db)
    messages = service(settings, db)
    fake_openai.add(*book_and_confirm())
    messages.process(DEMO_SALON_ID, CUSTOMER, BOOK_IT, idempotency_key=KEY)
    for phone, text in [(CUSTOMER, "Отмените запись"), ("+79007654321", BOOK_IT)]:
        with pytest.raises(InvalidInput) as refused:
            messages.process(DEMO_SALON_ID, phone, text, idempotency_key=KEY)
        assert refused.value.field == "Idempotency-Key"
    assert len(bookings(db)) == 1 and user_messages(db) == 1


def test_the_key_belongs_to_its_salon(
    db: Connection, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    import_demo_salon(db)
    berlin_salon(db, ai_enabled=True)
    db.commit()
    messages = service(settings, db)
    fake_openai.add(Answer("Здравствуйте!"), Answer("Hello!"))
    one = messages.process(DEMO_SALON_ID, CUSTOMER, "Привет", idempotency_key=KEY)
    other = messages.process(BERLIN_SALON_ID, CUSTOMER, "Hello", idempotency_key=KEY)
    assert (one.response, other.response) == ("Здравствуйте!", "Hello!")
    assert not one.replayed and not other.replayed


def test_without_a_key_each_request_is_a_turn(
    db: Connection, settings: Settings, fake_openai: FakeOpenAI
) -> None:
    import_demo_salon(db)
    messages = service(settings, db)
    fake_openai.add(Answer("Здравствуйте!"), Answer("Слушаю вас."))
    replies = [messages.process(DEMO_SALON_ID, CUSTOMER, "Привет").response for _ in range(2)]
    assert replies == ["Здравствуйте!", "Слушаю вас."]
    assert user_messages(db) == 2


# -- through the handler -------------------------------------------------------------------


def _body(**overrides: str) -> dict[str, str]:
    return {
        "salon_id": str(DEMO_SALON_ID),
        "phone_number": CUSTOMER,
        "message": "Привет! Хочу записаться на маникюр",
        **overrides,
    }


@pytest.fixture
def demo(db: Connection) -> uuid.UUID:
    import_demo_salon(db)
    return DEMO_SALON_ID


def test_the_header_replays_with_a_marker_and_refuses_reuse(
    api: Api, demo: uuid.UUID, db: Connection
) -> None:
    first = api.process(_body(), key=KEY)
    assert first.status == 200 and "idempotent-replayed" not in first.headers
    again = api.process(_body(), key=f'"{KEY}"')  # the IETF draft's quoted form, same key
    assert (again.status, again.body) == (200, first.body)
    assert again.headers["idempotent-replayed"] == "true"
    reused = api.process(_body(message="Отмените запись"), key=KEY)
    assert reused.status == 422
    assert reused.body["message"] == (
        "Invalid request: Idempotency-Key: was already used for a different request"
    )
    assert [d["field"] for d in reused.body["detail"]] == ["Idempotency-Key"]
    assert user_messages(db) == 1


@pytest.mark.parametrize("key", ["", "with space", "ключ", "x" * 256])
def test_a_malformed_key_is_a_422(api: Api, demo: uuid.UUID, db: Connection, key: str) -> None:
    reply = api.process(_body(), key=key)
    assert reply.status == 422, reply.body
    assert user_messages(db) == 0


def test_another_tenant_cannot_replay_a_salons_answer(
    api: Api, demo: uuid.UUID, db: Connection
) -> None:
    berlin_salon(db)
    db.commit()
    assert api.process(_body(), key=KEY).status == 200
    # Berlin's token names the demo salon with the demo salon's key: refused, not replayed
    reply = api.process(_body(), key=KEY, claims=token_claims(BERLIN_SALON_ID))
    assert reply.status == 403
    assert "response" not in reply.body
