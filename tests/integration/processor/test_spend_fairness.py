"""Spend fairness through the processor: one customer's messages cannot spend the salon's
model budget for the others, a model answer without `usage` is paid for at its estimate,
and the estimate reserved before a call is never below what the call can cost."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from salonbot.cost.guard import DynamoCostGuard, from_units
from salonbot.cost.guard_protocol import UnlimitedReservation, UnlimitedSpend
from salonbot.cost.pricing import price_for
from salonbot.db.connection import Connection
from salonbot.observability import metrics
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.integration.moto_dynamodb import COST_TABLE, create_cost_table
from tests.integration.processor.guided_harness import Customer, production_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    OTHER_CUSTOMER,
    Clock,
    import_demo_salon,
    rows,
    settings_for,
)

pytestmark = pytest.mark.integration

MODEL_SAYS = "Модель: здравствуйте, чем могу помочь?"
# 4,000 Cyrillic characters, as a spammer would send them: prose, and one-letter words
# (a token each) between newlines or punctuation, which tokenise densest.
SPAM = ("Запишите меня на маникюр к Анне в понедельник утром, пожалуйста. " * 70)[:4000]
DENSE = [
    "ж\n" * 2000,
    "я," * 2000,
    "".join(chr(0x0430 + i % 32) + "." for i in range(2000)),
]


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_cost_table(client)
        yield client
    metrics.clear_metrics()


def _model_answers(fake: FakeOpenAI, n: int) -> None:
    fake.add(*[Answer(MODEL_SAYS) for _ in range(n)])


def test_one_customers_spam_falls_back_to_the_guided_flow_while_another_still_gets_the_model(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, dynamodb: Any
) -> None:
    # Given a salon with $1 a day and no customer cap in its file ($0.10 each), on gpt-4o
    salon = import_demo_salon(db, daily_budget_usd=1.0)
    clock = Clock()
    settings = settings_for(fake_openai, fake_whatsapp, openai_model="gpt-4o")
    guard = DynamoCostGuard(
        COST_TABLE, global_daily_budget_usd=Decimal(50), client=dynamodb, clock=clock
    )
    harness = production_harness(db, settings, clock=clock, guard=guard)
    spammer = Customer(harness, fake_whatsapp, phone=CUSTOMER)
    other = Customer(harness, fake_whatsapp, phone=OTHER_CUSTOMER)
    _model_answers(fake_openai, 60)

    # When one customer sends 4,000-character messages, one after another
    answered_by_model = 0
    for _ in range(40):
        spammer.say(SPAM)
        if spammer.text != MODEL_SAYS:
            break
        answered_by_model += 1

    # Then the model answered them until their share was spent, then the guided flow did
    assert answered_by_model >= 1
    assert spammer.text != MODEL_SAYS
    assert spammer.replies, "the spammer was still answered"
    assert spammer.choices, "the guided flow offers its options"
    spent = guard.customer_spent_today(str(salon.id), salon.timezone, CUSTOMER)
    assert spent <= Decimal("0.10")
    assert guard.spent_today(str(salon.id), salon.timezone) == spent
    # And their further spam is not sent to the model either
    calls = len(fake_openai.requests)
    for _ in range(3):
        spammer.say(SPAM)
        assert spammer.text != MODEL_SAYS
    assert len(fake_openai.requests) == calls
    # While another customer of the same salon still gets the model
    assert other.say("Здравствуйте") and other.text == MODEL_SAYS
    assert len(fake_openai.requests) == calls + 1


def test_a_model_answer_without_usage_is_reserved_and_reconciled_at_its_estimate(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, dynamodb: Any
) -> None:
    # Given a model (or a proxy in front of it) that answers without `usage`
    salon = import_demo_salon(db)
    clock = Clock()
    guard = DynamoCostGuard(
        COST_TABLE, global_daily_budget_usd=Decimal(50), client=dynamodb, clock=clock
    )
    harness = production_harness(
        db, settings_for(fake_openai, fake_whatsapp), clock=clock, guard=guard
    )
    fake_openai.add(Answer(MODEL_SAYS, no_usage=True))

    # When a customer writes
    Customer(harness, fake_whatsapp).say("Привет")

    # Then the call counts at the amount reserved for it, not as free
    (resv,) = [
        i for i in dynamodb.scan(TableName=COST_TABLE)["Items"] if i["pk"]["S"].startswith("resv#")
    ]
    assert resv["state"]["S"] == "reconciled"
    estimate = from_units(resv["amount"]["N"])
    assert estimate > 0
    assert from_units(resv["actual"]["N"]) == estimate
    assert guard.spent_today(str(salon.id), salon.timezone) == estimate
    assert guard.customer_spent_today(str(salon.id), salon.timezone, CUSTOMER) == estimate
    (reply,) = rows(db, "SELECT cost FROM ai_messages WHERE role = 'assistant'")
    assert reply["cost"] == estimate


class _Recording(UnlimitedSpend):
    """Grants everything and keeps what each call reserved."""

    def __init__(self) -> None:
        self.amounts: list[Decimal] = []

    def reserve(self, **kwargs: Any) -> UnlimitedReservation:
        self.amounts.append(kwargs["amount_usd"])
        return super().reserve(**kwargs)


@pytest.mark.parametrize("text", [SPAM, *DENSE], ids=["prose", "newlines", "commas", "alphabet"])
def test_the_reserved_estimate_covers_the_calls_tokens_for_4000_cyrillic_characters(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, text: str
) -> None:
    # Given 4,000 Cyrillic characters (every other one a separator in the dense shapes)
    assert len(text) == 4000
    import_demo_salon(db)
    settings = settings_for(fake_openai, fake_whatsapp)
    guard = _Recording()
    harness = production_harness(db, settings, clock=Clock(), guard=guard)
    fake_openai.add(Answer(MODEL_SAYS))

    # When a customer sends them
    Customer(harness, fake_whatsapp).say(text)

    # Then the amount reserved is at least what the request's tokens and a full-length
    # answer cost (tokens counted by tests/fakes/tokens.py, as the fake model bills them)
    (request,) = fake_openai.requests
    (reserved,) = guard.amounts
    price = price_for(settings.openai_model)
    assert reserved >= price.cost(request.prompt_tokens, settings.openai_max_tokens)
