"""The per-customer throttle on `POST /api/v1/ai/process-message`: 10 messages a window
reach the assistant, the 11th is answered with the notice (200, `throttled`), later ones
get 429 with Retry-After and no reply; the next window is open again. DynamoDB in moto."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.api import messages
from salonbot.assistant.throttle import CustomerThrottle
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.config import Settings, get_settings
from salonbot.db.connection import Connection
from salonbot.texts import phrases
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.integration.api.conftest import Api
from tests.integration.moto_dynamodb import create_cost_table

pytestmark = pytest.mark.integration

TABLE = "salonbot-rate-limit"
T0 = dt.datetime(2030, 1, 7, 12, 0, tzinfo=dt.UTC).timestamp()


class Seconds:
    def __init__(self) -> None:
        self.now = T0 + 5

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds(api_env: pytest.MonkeyPatch, db: Connection) -> Iterator[Seconds]:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    clock = Seconds()
    with mock_aws():
        create_cost_table(boto3.client("dynamodb", region_name="eu-west-1"), TABLE)
        api_env.setenv("RATE_LIMIT_TABLE", TABLE)
        get_settings.cache_clear()

        def with_clock(settings: Settings) -> CustomerThrottle:
            assert settings.rate_limit_table == TABLE
            return CustomerThrottle(
                TABLE,
                limit=settings.customer_rate_limit,
                window_s=settings.customer_rate_window_s,
                clock=clock,
            )

        api_env.setattr(messages, "throttle_from_settings", with_clock)
        yield clock


def send(api: Api, text: str, phone: str = "+79001234567") -> Any:
    return api.process({"salon_id": str(DEMO_SALON_ID), "phone_number": phone, "message": text})


def test_eleventh_gets_the_notice_twelfth_a_429_next_window_open(
    api: Api, seconds: Seconds, db: Connection
) -> None:
    replies = [send(api, f"Привет {i}") for i in range(12)]
    assert [r.status for r in replies] == [200] * 11 + [429]
    assert not any(r.body["throttled"] for r in replies[:10])
    notice = replies[10].body
    assert (notice["response"], notice["throttled"], notice["handled_by"]) == (
        phrases("ru")["throttled"],
        True,
        "throttle",
    )
    assert (notice["tokens_used"], notice["cost"]) == (0, 0)
    limited = replies[11]
    assert limited.headers["retry-after"] == "55"
    assert limited.body["statusCode"] == 429 and limited.body["retry_after_s"] == 55
    # All 12 messages are in the conversation; 11 replies (10 answers and the notice)
    counts = db.execute(
        "SELECT role, count(*) AS n FROM ai_messages GROUP BY role ORDER BY role"
    ).fetchall()
    assert [(c["role"], c["n"]) for c in counts] == [("assistant", 11), ("user", 12)]
    # Another customer is not limited; the next window is open again
    assert send(api, "Привет", phone="+79007654321").status == 200
    seconds.now = T0 + 60
    again = send(api, "Хочу записаться")
    assert again.status == 200 and not again.body["throttled"]


def test_notice_in_english_for_an_english_speaker(api: Api, seconds: Seconds) -> None:
    replies = [send(api, f"Hi, can I book a haircut tomorrow? {i}") for i in range(11)]
    assert replies[-1].body["response"] == phrases("en")["throttled"]


def test_a_429_is_not_remembered_under_its_idempotency_key(
    api: Api, seconds: Seconds, db: Connection
) -> None:
    # Given a customer past the notice in this window
    for i in range(11):
        assert send(api, f"Привет {i}").status == 200
    body = {"salon_id": str(DEMO_SALON_ID), "phone_number": "+79001234567", "message": "Ау?"}
    # When a keyed message gets a 429, and is retried with its key after Retry-After
    limited = api.process(body, key="retry-me")
    assert limited.status == 429
    seconds.now = T0 + 60
    retried = api.process(body, key="retry-me")
    # Then the retry is answered (not the 429 again), and the message is stored once
    assert retried.status == 200 and not retried.body["throttled"], retried.body
    assert "idempotent-replayed" not in retried.headers
    stored = db.execute("SELECT count(*) AS n FROM ai_messages WHERE content = 'Ау?'").fetchone()
    assert stored == {"n": 1}
    # and from then on the key replays that answer
    assert api.process(body, key="retry-me").body == retried.body


def test_messages_for_staff_are_throttled_too(api: Api, seconds: Seconds, db: Connection) -> None:
    # Given a salon with AI off: its customers' messages are stored for the staff
    db.execute("UPDATE salons SET ai_enabled = false WHERE id = %s", (DEMO_SALON_ID,))
    db.commit()

    # When one customer sends 12 in a window
    replies = [send(api, f"Привет {i}") for i in range(12)]

    # Then the first 10 are left for staff, the 11th gets the notice, the 12th a 429,
    # and all 12 are stored
    assert [r.status for r in replies] == [200] * 11 + [429]
    assert {r.body["handled_by"] for r in replies[:10]} == {"staff"}
    assert (replies[10].body["handled_by"], replies[10].body["response"]) == (
        "throttle",
        phrases("ru")["throttled"],
    )
    (stored,) = db.execute("SELECT count(*) AS n FROM ai_messages WHERE role = 'user'").fetchall()
    assert stored["n"] == 12
