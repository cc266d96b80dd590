"""The AI API through its Lambda handler: health in each model state, process-message
with the fallback engine and with the (fake) model, validation, unknown salons, stats."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import get_settings
from salonbot.db.connection import Connection, reset_connection
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.integration.api.conftest import (
    Api,
    FakeContext,
    process_event,
    sample_event,
    token_claims,
    use_model,
)

pytestmark = pytest.mark.integration

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
CUSTOMER = "+79001234567"
GREETING = "Привет! Хочу записаться на маникюр"


@pytest.fixture
def demo(db: Connection) -> uuid.UUID:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    return DEMO_SALON_ID


def request(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "salon_id": str(DEMO_SALON_ID),
        "phone_number": CUSTOMER,
        "message": GREETING,
        "conversation_id": "test_conv_001",
    }
    body.update(overrides)
    return body


# -- health -------------------------------------------------------------------------------


def test_health_without_a_key_is_not_configured_and_says_so(api: Api) -> None:
    reply = api.health()
    assert reply.status == 200
    assert (reply.body["status"], reply.body["service"], reply.body["openai"]) == (
        "ok",
        "ai",
        "not_configured",
    )
    assert reply.body["detail"] == "OPENAI_API_KEY is not configured"
    assert reply.body["database"] == "ok"
    assert dt.datetime.fromisoformat(reply.body["timestamp"]).tzinfo is not None


def test_health_connected_after_a_cached_models_check(
    api: Api, api_env: pytest.MonkeyPatch, fake_openai: FakeOpenAI
) -> None:
    use_model(api_env, fake_openai)
    first, second = api.health(), api.health()
    assert first.status == second.status == 200
    assert first.body["openai"] == second.body["openai"] == "connected"
    assert first.body.get("detail") is None
    # One GET /models for both: the check is cached per container
    assert fake_openai.model_list_requests == 1
    # The key appears nowhere in the answer
    assert "sk-test-key" not in str(first.body)


def test_health_warns_of_a_model_the_price_table_does_not_know(
    api: Api, api_env: pytest.MonkeyPatch, fake_openai: FakeOpenAI
) -> None:
    # Given a compatible server's own model and no OPENAI_PRICE_*
    use_model(api_env, fake_openai)
    assert api.health().body["warnings"] == []
    api_env.setenv("OPENAI_MODEL", "llama-3.1-8b-instruct")
    get_settings.cache_clear()

    reply = api.health()

    # Then health is still ok, and says how the model is priced and what to set
    assert reply.status == 200 and reply.body["openai"] == "connected"
    (warning,) = reply.body["warnings"]
    assert "llama-3.1-8b-instruct" in warning and "most expensive known rate" in warning
    assert "OPENAI_PRICE_INPUT_PER_MTOK" in warning

    # When the prices are configured, the warning goes
    api_env.setenv("OPENAI_PRICE_INPUT_PER_MTOK", "0.1")
    api_env.setenv("OPENAI_PRICE_OUTPUT_PER_MTOK", "0.2")
    get_settings.cache_clear()
    assert api.health().body["warnings"] == []


def test_health_reports_a_rejected_key_as_error(
    api: Api, api_env: pytest.MonkeyPatch, fake_openai: FakeOpenAI
) -> None:
    fake_openai.models_status = 401
    use_model(api_env, fake_openai)
    reply = api.health()
    assert reply.status == 200  # customers are still served by the fallback engine
    assert reply.body["openai"] == "error"
    assert "401" in reply.body["detail"]
    assert "sk-test-key" not in str(reply.body)


def test_health_reports_an_unreachable_model_api_as_error(
    api: Api, api_env: pytest.MonkeyPatch
) -> None:
    api_env.setenv("OPENAI_API_KEY", "sk-test-key-0123456789")
    api_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: refused
    get_settings.cache_clear()
    reply = api.health()
    assert (reply.status, reply.body["openai"]) == (200, "error")
    assert reply.body["detail"] == "the model API is unreachable"


def test_health_is_degraded_when_the_database_is_down(
    api: Api, api_env: pytest.MonkeyPatch
) -> None:
    api_env.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    api_env.setenv("DB_CONNECT_TIMEOUT_S", "1")
    get_settings.cache_clear()
    reset_connection()
    reply = api.health()
    assert reply.status == 503
    assert (reply.body["status"], reply.body["database"]) == ("degraded", "error")
    assert "nobody" not in str(reply.body)


def test_health_reports_the_ai_kill_switch(api: Api, demo: uuid.UUID, db: Connection) -> None:
    from salonbot.assistant.switch import set_switch

    # Given the switch on: health says so
    assert api.health().body["ai"] == {
        "switched_off": False,
        "salons_switched_off": 0,
        "since": None,
    }

    # When one salon, then every salon, is switched off
    set_switch(db, off=True, salon_id=demo, changed_by="ops@laptop")
    db.commit()
    one = api.health().body["ai"]
    set_switch(db, off=True, salon_id=None, changed_by="ops@laptop")
    db.commit()
    reply = api.health()

    # Then health reports it (a count of salons, not their ids), and stays ok
    assert (one["switched_off"], one["salons_switched_off"]) == (False, 1)
    assert reply.status == 200 and reply.body["status"] == "ok"
    assert (reply.body["ai"]["switched_off"], reply.body["ai"]["salons_switched_off"]) == (True, 1)
    assert dt.datetime.fromisoformat(reply.body["ai"]["since"]).tzinfo is not None
    assert str(demo) not in str(reply.body) and "ops@laptop" not in str(reply.body)


# -- process-message ------------------------------------------------------------------------


def test_process_message_without_a_model_answers_in_russian_at_no_cost(
    api: Api, demo: uuid.UUID, db: Connection
) -> None:
    reply = api.process(request())
    assert reply.status == 200, reply.body
    body = reply.body
    assert CYRILLIC.search(body["response"])
    assert (body["tokens_used"], body["cost"], body["model"]) == (0, 0, None)
    assert body["handled_by"] == "assistant" and body["engine"] != "llm"
    assert body["booking_code"] is None
    assert isinstance(body["response_time_ms"], int) and body["response_time_ms"] >= 0
    # The turn is stored in the customer's one conversation with the salon
    assert body["conversation_id"] == f"conv_{DEMO_SALON_ID}_79001234567"
    stored = db.execute(
        "SELECT role, content FROM ai_messages WHERE conversation_id = %s ORDER BY id",
        (body["conversation_id"],),
    ).fetchall()
    assert [(r["role"], r["content"]) for r in stored] == [
        ("user", GREETING),
        ("assistant", body["response"]),
    ]


def test_process_message_with_the_model(
    api: Api, api_env: pytest.MonkeyPatch, fake_openai: FakeOpenAI, demo: uuid.UUID
) -> None:
    use_model(api_env, fake_openai)
    fake_openai.add(Answer("Здравствуйте! 💅 С удовольствием помогу записаться на маникюр."))
    reply = api.process(request())
    assert reply.status == 200, reply.body
    body = reply.body
    assert body["response"].startswith("Здравствуйте! 💅")
    assert body["model"] == "gpt-4o-mini" and body["engine"] == "llm"
    assert body["tokens_used"] > 0 and body["cost"] > 0
    # The customer's words reached the model, options as text (no interactive lists)
    assert fake_openai.requests[0].last_user_text() == GREETING
    # Conversation memory: the next turn's request carries the first exchange
    fake_openai.add(Answer("На какой день вам удобно?"))
    second = api.process(request(message="Да, пожалуйста"))
    assert second.status == 200
    history = [m.get("content") for m in fake_openai.requests[1].messages]
    assert GREETING in history and body["response"] in history


def test_model_outage_gives_the_fallback_at_no_cost(
    api: Api, api_env: pytest.MonkeyPatch, fake_openai: FakeOpenAI, demo: uuid.UUID
) -> None:
    from tests.fakes.openai_server import Failure

    api_env.setenv("OPENAI_MAX_RETRIES", "0")
    use_model(api_env, fake_openai)
    fake_openai.add(Failure(500))
    reply = api.process(request())
    assert reply.status == 200
    assert CYRILLIC.search(reply.body["response"])
    assert (reply.body["tokens_used"], reply.body["cost"]) == (0, 0)
    assert reply.body["engine"] != "llm"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"salon_id": str(DEMO_SALON_ID)}, {"phone_number", "message"}),
        (request(phone_number="12345"), {"phone_number"}),
        (request(phone_number="+7 900 abc"), {"phone_number"}),
        (request(salon_id="not-a-uuid", message=""), {"salon_id", "message"}),
        (request(message="x" * 5000), {"message"}),
    ],
)
def test_bad_requests_get_422_naming_the_fields(
    api: Api, demo: uuid.UUID, db: Connection, body: dict[str, object], fields: set[str]
) -> None:
    reply = api.process(body)
    assert reply.status == 422
    assert {d["field"] for d in reply.body["detail"]} == fields
    for field in fields:
        assert field in reply.body["message"]
    assert "Traceback" not in str(reply.body)
    # Nothing was stored
    assert db.execute("SELECT count(*) AS n FROM ai_messages").fetchone() == {"n": 0}


def test_a_message_with_nul_and_control_characters_is_answered_and_stored_clean(
    api: Api, demo: uuid.UUID, db: Connection
) -> None:
    # Given a request whose message holds a NUL (PostgreSQL cannot store it), a bell and
    # an emoji, as JSON escapes (the emoji as a surrogate pair)
    body = json.dumps(request(message="Хочу\u0000 на маникюр\u0007 \ud83d\udc85"))

    # When it is processed
    reply = api.process(None, raw=body)

    # Then it is answered, and stored without them, the emoji kept
    assert reply.status == 200, reply.body
    stored = db.execute("SELECT content FROM ai_messages WHERE role = 'user'").fetchall()
    assert stored == [{"content": "Хочу на маникюр 💅"}]


@pytest.mark.parametrize(
    "message", ["\u0000\u0007", " \u0000 ", "half an emoji \ud83d"], ids=["controls", "nul", "lone"]
)
def test_a_message_of_control_characters_or_with_a_lone_surrogate_gets_422(
    api: Api, demo: uuid.UUID, db: Connection, message: str
) -> None:
    reply = api.process(None, raw=json.dumps(request(message=message)))
    assert reply.status == 422
    assert {d["field"] for d in reply.body["detail"]} == {"message"}
    assert db.execute("SELECT count(*) AS n FROM ai_messages").fetchone() == {"n": 0}


def test_invalid_phone_message_says_what_is_expected(api: Api, demo: uuid.UUID) -> None:
    reply = api.process(request(phone_number="12345"))
    (error,) = reply.body["detail"]
    assert "E.164" in error["msg"]


def test_malformed_json_gets_422(api: Api, demo: uuid.UUID) -> None:
    reply = api.process(None, raw='{"salon_id": ')
    assert reply.status == 422
    assert reply.body["statusCode"] == 422


@pytest.mark.parametrize("raw", ['{"salon_id": ', "{bad", "1,"])
def test_malformed_json_is_said_to_be_malformed_json(api: Api, demo: uuid.UUID, raw: str) -> None:
    reply = api.process(None, raw=raw)

    # Then the message is about JSON, not a field named by the offset of the mistake
    assert reply.status == 422
    assert reply.body["message"].startswith("Invalid request: the body is not valid JSON ("), (
        reply.body
    )
    assert [(d["field"], d["loc"], d["type"]) for d in reply.body["detail"]] == [
        ("body", ["body"], "json_invalid")
    ]
    assert "at character" in reply.body["detail"][0]["msg"]


def test_an_empty_body_is_said_to_be_empty(api: Api, demo: uuid.UUID) -> None:
    reply = api.process(None, raw="")
    assert reply.status == 422
    assert reply.body["message"] == (
        "Invalid request: the body is empty: a JSON object is expected"
    )


def test_answers_are_readable_utf8_json_and_say_so(api: Api, demo: uuid.UUID) -> None:
    reply_event = process_event(request())
    unknown_event = process_event(request(), raw='{"bad')

    answered = api.handler(reply_event, FakeContext())
    refused = api.handler(unknown_event, FakeContext())
    health = api.handler(sample_event("api-health.json"), FakeContext())

    # Then the reply reads as written, not as \u escapes, and the header names the charset
    assert CYRILLIC.search(answered["body"]), answered["body"]
    assert "\\u04" not in answered["body"]
    assert json.loads(answered["body"])["response"]
    for result in (answered, refused, health):
        assert result["headers"]["Content-Type"] == "application/json; charset=utf-8", result


def test_unknown_salon_gets_404_with_a_clear_message(api: Api, db: Connection) -> None:
    # A token for a salon that was never imported (for another salon it would be a 403)
    other = uuid.UUID("3f0c1a52-0000-4000-8000-0000000000ff")
    reply = api.process(request(salon_id=str(other)), claims=token_claims(other))
    assert reply.status == 404
    assert reply.body["message"] == f"Salon not found: no salon {other}"
    assert db.execute("SELECT count(*) AS n FROM ai_conversations").fetchone() == {"n": 0}


def test_unexpected_errors_are_a_plain_500(
    api: Api, demo: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    from salonbot.api import messages

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(messages.MessageService, "process", broken)
    reply = api.process(request())
    assert reply.status == 500
    assert reply.body == {"statusCode": 500, "message": "Internal server error"}


def test_unknown_route_is_a_json_404(api: Api) -> None:
    from tests.integration.api.conftest import sample_event

    event = sample_event("api-health.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/api/v1/ai/nope"
    reply = api.invoke(event)
    assert reply.status == 404 and reply.body["statusCode"] == 404


# -- stats ---------------------------------------------------------------------------------


def test_stats_sum_a_salons_messages(api: Api, demo: uuid.UUID, db: Connection) -> None:
    db.execute(
        "INSERT INTO ai_conversations (id, salon_id, phone_number) VALUES ('c1', %s, '+1')",
        (demo,),
    )
    at = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
    for i, ms in enumerate([100, 200, 300, 400, 1000]):
        db.execute(
            """INSERT INTO ai_messages (conversation_id, salon_id, role, content, created_at)
               VALUES ('c1', %s, 'user', 'hi', %s)""",
            (demo, at + dt.timedelta(minutes=i)),
        )
        db.execute(
            """INSERT INTO ai_messages (conversation_id, salon_id, role, content,
                   prompt_tokens, completion_tokens, cost, response_time_ms, created_at)
               VALUES ('c1', %s, 'assistant', 'hello', 100, 20, %s, %s, %s)""",
            (demo, Decimal("0.0015"), ms, at + dt.timedelta(minutes=i, seconds=1)),
        )
    # and one outside the window
    db.execute(
        """INSERT INTO ai_messages (conversation_id, salon_id, role, content, created_at)
           VALUES ('c1', %s, 'user', 'old', %s)""",
        (demo, at - dt.timedelta(days=40)),
    )
    db.commit()
    reply = api.stats({"salon_id": str(demo), "from": "2026-03-01", "to": "2026-03-31"})
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["messages_received"], body["replies"], body["model_replies"]) == (5, 5, 5)
    assert (body["prompt_tokens"], body["completion_tokens"], body["tokens_used"]) == (
        500,
        100,
        600,
    )
    assert body["cost"] == pytest.approx(0.0075)
    assert body["avg_response_time_ms"] == 400.0
    assert body["p95_response_time_ms"] == pytest.approx(880.0)  # between 400 and 1000
    assert body["bookings_created"] == 0
    # Days are the salon's (Moscow) days, `to` inclusive
    assert body["from"] == "2026-03-01T00:00:00+03:00"
    assert body["to"] == "2026-04-01T00:00:00+03:00"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"salon_id": "nope"}, "salon_id"),
        ({}, "salon_id"),
        ({"salon_id": str(DEMO_SALON_ID), "from": "yesterday"}, "from"),
        ({"salon_id": str(DEMO_SALON_ID), "to": "2026-03-01T10:00"}, "to"),
        ({"salon_id": str(DEMO_SALON_ID), "from": "2026-03-10", "to": "2026-03-01"}, "from"),
    ],
)
def test_stats_bad_query_gets_422_naming_the_field(
    api: Api, demo: uuid.UUID, query: dict[str, str], field: str
) -> None:
    reply = api.stats(query)
    assert reply.status == 422, reply.body
    assert [d["field"] for d in reply.body["detail"]] == [field]


def test_stats_for_an_unknown_salon_is_404(api: Api, db: Connection) -> None:
    unknown = "3f0c1a52-0000-4000-8000-0000000000ff"
    reply = api.stats({"salon_id": unknown}, claims=token_claims(unknown))
    assert reply.status == 404
    assert "3f0c1a52-0000-4000-8000-0000000000ff" in reply.body["message"]
