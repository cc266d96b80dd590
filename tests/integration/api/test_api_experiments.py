"""GET /api/v1/ai/stats reports each arm of the salon's model experiment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import validate_salon
from tests.integration.processor.harness import demo_salon_data

if TYPE_CHECKING:
    import uuid

    from salonbot.db.connection import Connection
    from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

AT = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
ARMS = [
    {"id": "mini", "model": "gpt-4o-mini", "weight": 3},
    {"id": "big", "model": "gpt-4.1", "weight": 1, "temperature": 0.3},
]


def _salon_with_arms(db: Connection) -> uuid.UUID:
    result = import_salon(db, validate_salon(demo_salon_data(model_experiment={"arms": ARMS})))
    db.commit()
    return result.salon_id


def _reply(db: Connection, salon: uuid.UUID, conversation: str, arm: str, **values: object) -> None:
    db.execute(
        """INSERT INTO ai_messages (conversation_id, salon_id, role, content, prompt_tokens,
               completion_tokens, cost, response_time_ms, model, booking_code, experiment_arm,
               handoff, created_at)
           VALUES (%(c)s, %(s)s, 'assistant', 'ok', %(p)s, %(k)s, %(cost)s, %(ms)s, %(model)s,
                   %(code)s, %(arm)s, %(handoff)s, %(at)s)""",
        {
            "c": conversation,
            "s": salon,
            "arm": arm,
            "p": values.get("p", 100),
            "k": values.get("k", 10),
            "cost": values.get("cost", Decimal("0.001")),
            "ms": values.get("ms", 500),
            "model": values.get("model"),
            "code": values.get("code"),
            "handoff": values.get("handoff", False),
            "at": AT,
        },
    )


def test_stats_carry_one_entry_per_arm(api: Api, db: Connection) -> None:
    # Given arm mini with two conversations (one booked twice) and arm big with one hand-off
    salon = _salon_with_arms(db)
    db.execute(
        """INSERT INTO ai_conversations (id, salon_id, phone_number, experiment_arm)
           VALUES ('c1', %(s)s, '+1', 'mini'), ('c2', %(s)s, '+2', 'mini'),
                  ('c3', %(s)s, '+3', 'big')""",
        {"s": salon},
    )
    _reply(db, salon, "c1", "mini", model="gpt-4o-mini", code="BKAAAA", cost=Decimal("0.002"))
    _reply(db, salon, "c1", "mini", model="gpt-4o-mini", code="BKBBBB", cost=Decimal("0.002"))
    _reply(db, salon, "c2", "mini", model="gpt-4o-mini", ms=900)
    _reply(db, salon, "c3", "big", model="gpt-4.1", handoff=True, cost=Decimal("0.01"))
    db.commit()

    # When the backend asks for the month's stats
    reply = api.stats({"salon_id": str(salon), "from": "2026-03-01", "to": "2026-03-31"})

    # Then each arm is reported, in the salon file's order
    assert reply.status == 200, reply.body
    mini, big = reply.body["arms"]
    assert (mini["arm"], mini["weight"], mini["models"]) == ("mini", 3.0, ["gpt-4o-mini"])
    assert (mini["conversations"], mini["bookings"], mini["conversion_rate"]) == (2, 2, 0.5)
    assert mini["cost"] == pytest.approx(0.005)
    assert mini["cost_per_booking"] == pytest.approx(0.0025)
    assert mini["tokens_used"] == 330
    assert mini["p95_response_time_ms"] == pytest.approx(860.0)  # 500, 500, 900
    assert 0 < mini["conversion_ci95"][0] < 0.5 < mini["conversion_ci95"][1] < 1
    assert (big["arm"], big["temperature"], big["handoffs"], big["bookings"]) == ("big", 0.3, 1, 0)
    assert big["cost_per_booking"] is None
    assert big["feedback_rating"] is None
