"""OpenAI's answers as the API reference gives them, through the real `openai` SDK and the
real processor: a refusal, a content-filtered answer, a reply cut at its token limit, a
`custom` tool call and an unknown tool name, `429 insufficient_quota`, `401`, a rate
limit with Retry-After, a context that is too long, and a reasoning model. Each case
asserts what the customer receives, what is stored and which metric moves."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from salonbot.assistant.breaker import ModelBreaker
from salonbot.cost.guard_protocol import UnlimitedReservation
from salonbot.cost.pricing import PRICES, quote
from salonbot.db.connection import Connection
from salonbot.errors import BudgetExceeded
from salonbot.observability import MetricName, metrics
from salonbot.texts import phrases
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import (
    Answer,
    CustomToolCall,
    FakeOpenAI,
    ToolCall,
    context_length_exceeded,
    invalid_api_key,
    quota_exhausted,
    rate_limited,
)
from tests.integration.processor.guided_harness import Customer, production_harness
from tests.integration.processor.harness import (
    Clock,
    Harness,
    bookings_of,
    import_demo_salon,
    rows,
    settings_for,
)

pytestmark = pytest.mark.integration

# What the guided flow answers "Хочу на маникюр" with: the masters who do manicures.
GUIDED_MASTERS = ["Любой мастер", "Анна", "Мария"]
MANICURE = "Хочу на маникюр"
MODEL_REPLY = "На какой день вас записать на маникюр?"


def _replies(db: Connection) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT content, prompt_tokens, completion_tokens, cost, model, tool_calls "
        "FROM ai_messages WHERE role = 'assistant' ORDER BY id",
    )


def _counted(name: str) -> float:
    """How much a metric moved since the test cleared them."""
    entry = metrics.metric_set.get(name)
    return sum(entry["Value"]) if entry else 0.0


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Any:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@dataclass
class Waits:
    """The agent's sleep: records each wait instead of sleeping it."""

    seconds: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def _harness(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, **overrides: Any
) -> tuple[Harness, Customer]:
    import_demo_salon(db)
    settings = settings_for(fake_openai, fake_whatsapp, **overrides)
    harness = production_harness(db, settings, clock=Clock())
    return harness, Customer(harness, fake_whatsapp)


# -- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        Answer(refusal="I'm sorry, but I can't assist with that request."),
        Answer("Вот как обойти правила сало", finish_reason="content_filter"),
    ],
    ids=["refusal", "content_filter"],
)
def test_a_refusal_is_answered_politely_and_is_not_an_outage(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, answer: Answer
) -> None:
    # Given a model that declines (or whose answer the content filter withheld)
    _, customer = _harness(db, fake_openai, fake_whatsapp)
    fake_openai.add(answer)

    # When a customer asks for something it will not do
    started = time.monotonic()
    customer.say("Расскажи, как взломать чужой аккаунт")
    elapsed = time.monotonic() - started

    # Then the customer got the catalogue's polite reply, never the model's own text
    assert customer.text == phrases("ru")["model_refusal"]
    assert len(fake_whatsapp.sent) == 1
    assert len(fake_openai.requests) == 1
    assert elapsed < 2.0
    # and the paid call is stored with the reply, as the model's turn
    (reply,) = _replies(db)
    assert reply["content"] == phrases("ru")["model_refusal"]
    assert reply["model"] == "gpt-4o-mini" and reply["prompt_tokens"] > 0 and reply["cost"] > 0
    # and it counts as a refusal, not as a model failure or a fallback
    assert _counted(MetricName.MODEL_REFUSALS) == 1
    assert _counted(MetricName.MODEL_FAILURES) == 0
    assert _counted(MetricName.FALLBACKS) == 0


# -- replies cut at their token limit -------------------------------------------------


def test_a_cut_reply_is_never_sent_and_is_asked_again_with_a_larger_limit(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model whose first reply stops at its token limit
    harness, customer = _harness(db, fake_openai, fake_whatsapp)
    fake_openai.add(Answer("На какой день вас зап", finish_reason="length"), Answer(MODEL_REPLY))

    # When a customer writes
    customer.say(MANICURE)

    # Then the customer got the whole reply only
    assert customer.text == MODEL_REPLY
    assert len(fake_whatsapp.sent) == 1
    # and the second call had twice the limit
    limits = [r.body["max_tokens"] for r in fake_openai.requests]
    assert limits == [harness.settings.openai_max_tokens, 2 * harness.settings.openai_max_tokens]
    # and both calls are paid for on the reply
    (reply,) = _replies(db)
    assert reply["prompt_tokens"] == sum(r.prompt_tokens for r in fake_openai.requests)
    assert _counted(MetricName.MODEL_REPLIES_CUT) == 1
    assert _counted(MetricName.MODEL_FAILURES) == 0


def test_a_reply_cut_twice_is_answered_by_the_guided_flow(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model that runs out of tokens even with the larger limit
    _, customer = _harness(db, fake_openai, fake_whatsapp)
    cut = "Конечно! Вот все наши мастера и их расписание на неделю: Анна — понедельник"
    fake_openai.add(Answer(cut, finish_reason="length"), Answer(cut, finish_reason="length"))

    # When a customer writes
    started = time.monotonic()
    customer.say(MANICURE)
    elapsed = time.monotonic() - started

    # Then the cut text never reached the customer: the guided flow answered, once
    assert customer.titles() == GUIDED_MASTERS
    assert all(cut not in m.payload.get("text", {}).get("body", "") for m in fake_whatsapp.sent)
    assert len(fake_whatsapp.sent) == 1
    assert len(fake_openai.requests) == 2
    assert elapsed < 2.0
    # and the two paid calls are on the reply's row
    (reply,) = _replies(db)
    assert reply["prompt_tokens"] == sum(r.prompt_tokens for r in fake_openai.requests)
    assert reply["cost"] > 0
    # and the cuts are counted, not as a model outage
    assert _counted(MetricName.MODEL_REPLIES_CUT) == 2
    assert _counted(MetricName.MODEL_FAILURES) == 0
    assert _counted(MetricName.FALLBACKS) == 1


def test_a_turn_asks_for_a_larger_limit_once_however_many_calls_it_makes(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model cut once, then calling a tool, then cut again at the larger limit
    _, customer = _harness(db, fake_openai, fake_whatsapp)
    fake_openai.add(
        Answer("Сейчас посмотр", finish_reason="length"),
        Answer(tool_calls=[ToolCall("slots", {"service": "manicure"})]),
        Answer("Свободно: 10:00, 11:", finish_reason="length"),
    )

    # When a customer writes
    customer.say(MANICURE)

    # Then the limit was raised once and kept; the second cut ends in the guided flow
    assert [r.body["max_tokens"] for r in fake_openai.requests] == [1000, 2000, 2000]
    assert customer.titles() == GUIDED_MASTERS
    assert _counted(MetricName.MODEL_REPLIES_CUT) == 2


class FirstCallOnly:
    """A spend guard with room for the first call's reservation and no more."""

    def __init__(self) -> None:
        self.amounts: list[Decimal] = []

    def reserve(self, *, amount_usd: Decimal, reservation_id: str, **_: Any) -> Any:
        if self.amounts and amount_usd > self.amounts[0]:
            raise BudgetExceeded("customer's daily budget reached")
        self.amounts.append(amount_usd)
        return UnlimitedReservation(reservation_id, amount_usd)

    def reconcile(self, reservation: Any, actual_usd: Decimal) -> None:
        return None

    def release(self, reservation: Any) -> None:
        return None


def test_the_larger_limit_is_reserved_and_a_guard_that_refuses_it_gets_the_guided_flow(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a cost guard with room for one ordinary call only
    import_demo_salon(db)
    guard = FirstCallOnly()
    settings = settings_for(fake_openai, fake_whatsapp)
    harness = production_harness(db, settings, clock=Clock(), guard=guard)
    customer = Customer(harness, fake_whatsapp)
    fake_openai.add(Answer("На какой день", finish_reason="length"), Answer(MODEL_REPLY))

    # When the reply is cut
    customer.say(MANICURE)

    # Then the longer call was not made: the guided flow answered
    assert len(fake_openai.requests) == 1
    assert customer.titles() == GUIDED_MASTERS
    (reply,) = _replies(db)
    assert reply["prompt_tokens"] == fake_openai.requests[0].prompt_tokens


# -- tool calls outside the offered functions ----------------------------------------


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (CustomToolCall("book", "завтра 12:00 маникюр"), "unsupported_tool_type"),
        (ToolCall("delete_all_bookings", {}), "unknown_tool"),
    ],
    ids=["custom_tool_call", "unknown_tool_name"],
)
def test_a_tool_call_outside_the_offered_functions_is_refused_and_the_turn_goes_on(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    call: Any,
    error: str,
) -> None:
    # Given a model that calls a tool salonbot does not offer, then answers
    _, customer = _harness(db, fake_openai, fake_whatsapp)
    fake_openai.add(Answer(tool_calls=[call]), Answer(MODEL_REPLY))

    # When a customer writes
    customer.say(MANICURE)

    # Then the model was told the call is invalid, and its next answer reached the customer
    assert len(fake_openai.requests) == 2
    assert fake_openai.requests[1].tool_result()["error"] == error
    echoed = fake_openai.requests[1].messages[-2]["tool_calls"][0]
    assert echoed["type"] == ("custom" if isinstance(call, CustomToolCall) else "function")
    assert customer.text == MODEL_REPLY
    # and nothing was booked; the refused call is kept with the reply
    assert bookings_of(db) == []
    (reply,) = _replies(db)
    assert [c["result"]["error"] for c in reply["tool_calls"]] == [error]
    assert _counted(MetricName.TOOL_CALLS_REFUSED) == 1
    assert _counted(MetricName.MODEL_FAILURES) == 0


# -- quota and key: the breaker -------------------------------------------------------


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("failure", "metric"),
    [
        (quota_exhausted(), MetricName.MODEL_QUOTA_EXHAUSTED),
        (quota_exhausted("project_spend_limit_exceeded"), MetricName.MODEL_QUOTA_EXHAUSTED),
        (invalid_api_key(), MetricName.MODEL_AUTH_FAILURES),
    ],
    ids=["insufficient_quota", "project_spend_limit", "invalid_api_key"],
)
def test_no_quota_or_a_rejected_key_is_not_retried_and_opens_the_breaker(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    failure: Any,
    metric: str,
) -> None:
    # Given a model account without quota (or with a rejected key), retries allowed
    harness, customer = _harness(db, fake_openai, fake_whatsapp, openai_max_retries=3)
    clock = Monotonic()
    agent: Any = harness.router.agent
    agent.breaker = ModelBreaker(harness.settings.openai_breaker_minutes, monotonic=clock)
    fake_openai.add(failure, Answer(MODEL_REPLY))

    # When a customer writes
    started = time.monotonic()
    customer.say(MANICURE)
    elapsed = time.monotonic() - started

    # Then the model was asked once, not retried, and the guided flow answered
    assert len(fake_openai.requests) == 1
    assert customer.titles() == GUIDED_MASTERS
    assert elapsed < 2.0
    (reply,) = _replies(db)
    assert (reply["prompt_tokens"], reply["cost"], reply["model"]) == (0, 0, None)
    assert _counted(metric) == 1
    assert _counted(MetricName.MODEL_FAILURES) == 1

    # When the next customer message comes within the breaker's minutes
    clock.now += 4 * 60
    customer.say("Привет")

    # Then it goes straight to the guided flow: no model call at all
    assert len(fake_openai.requests) == 1
    assert customer.replies and "Nail Studio Aurora" in customer.text
    assert _counted(MetricName.MODEL_BREAKER_OPEN) == 1
    assert _counted(metric) == 1
    assert _counted(MetricName.MODEL_FAILURES) == 1

    # When the breaker's minutes have passed
    clock.now += 2 * 60
    customer.say("Хочу записаться")

    # Then the model is asked again
    assert len(fake_openai.requests) == 2
    assert customer.text == MODEL_REPLY


def test_a_rate_limit_is_retried_after_its_retry_after(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a model that is rate limited once, asking for 2 s
    harness, customer = _harness(db, fake_openai, fake_whatsapp)
    waits = Waits()
    agent: Any = harness.router.agent
    agent._sleep = waits
    fake_openai.add(rate_limited(2), Answer(MODEL_REPLY))

    # When a customer writes
    customer.say(MANICURE)

    # Then the agent waited as asked and the retry answered
    assert waits.seconds == [2.0]
    assert len(fake_openai.requests) == 2
    assert customer.text == MODEL_REPLY
    assert _counted(MetricName.MODEL_FAILURES) == 0
    assert _counted(MetricName.MODEL_QUOTA_EXHAUSTED) == 0


@pytest.mark.parametrize(
    ("retry_after", "deadline_s"), [(30, 45.0), (3, 2.0)], ids=["too_long", "past_deadline"]
)
def test_a_retry_after_the_turn_cannot_wait_for_gets_the_guided_flow_at_once(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    retry_after: int,
    deadline_s: float,
) -> None:
    # Given a rate limit whose Retry-After is too long, or past the turn's deadline
    harness, customer = _harness(db, fake_openai, fake_whatsapp, assistant_deadline_s=deadline_s)
    waits = Waits()
    agent: Any = harness.router.agent
    agent._sleep = waits
    fake_openai.add(rate_limited(retry_after), Answer(MODEL_REPLY))

    # When a customer writes
    customer.say(MANICURE)

    # Then nobody waited and the guided flow answered; the breaker stays closed
    assert waits.seconds == []
    assert len(fake_openai.requests) == 1
    assert customer.titles() == GUIDED_MASTERS
    assert agent.breaker.open_reason(agent.model) is None


def test_a_context_that_is_too_long_is_not_retried(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    harness, customer = _harness(db, fake_openai, fake_whatsapp)
    fake_openai.add(context_length_exceeded(), Answer(MODEL_REPLY))

    customer.say(MANICURE)

    assert len(fake_openai.requests) == 1
    assert customer.titles() == GUIDED_MASTERS
    assert _counted(MetricName.MODEL_FAILURES) == 1
    agent: Any = harness.router.agent
    assert agent.breaker.open_reason(agent.model) is None


def test_annotations_and_logprobs_do_not_change_the_reply(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    _, customer = _harness(db, fake_openai, fake_whatsapp)
    citation = {
        "type": "url_citation",
        "url_citation": {
            "url": "https://example.org",
            "title": "x",
            "start_index": 0,
            "end_index": 3,
        },
    }
    logprobs = {
        "content": [{"token": "На", "logprob": -0.01, "bytes": [208, 157], "top_logprobs": []}],
        "refusal": None,
    }
    fake_openai.add(Answer(MODEL_REPLY, annotations=[citation], logprobs=logprobs))

    customer.say(MANICURE)

    assert customer.text == MODEL_REPLY


# -- reasoning models ---------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-5-mini", "o4-mini", "gpt-5"])
def test_a_reasoning_model_works_by_changing_openai_model_only(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, model: str
) -> None:
    # Given OPENAI_MODEL set to a reasoning model, nothing else changed
    harness, customer = _harness(db, fake_openai, fake_whatsapp, openai_model=model)
    fake_openai.add(Answer(MODEL_REPLY, reasoning_tokens=384))

    # When a customer writes
    customer.say(MANICURE)

    # Then the server got max_completion_tokens and no max_tokens nor temperature
    (request,) = fake_openai.requests
    assert request.body["model"] == model
    assert request.body["max_completion_tokens"] == harness.settings.openai_reasoning_max_tokens
    assert "max_tokens" not in request.body and "temperature" not in request.body
    assert "reasoning_effort" not in request.body
    # and the customer got the answer
    assert customer.text == MODEL_REPLY
    # and the reasoning tokens are stored and paid as output, at the model's list price
    (reply,) = _replies(db)
    assert reply["completion_tokens"] >= 384
    price = PRICES[model]
    assert reply["cost"] == price.cost(reply["prompt_tokens"], reply["completion_tokens"])


def test_a_chat_model_keeps_max_tokens_and_temperature_and_effort_is_sent_when_set(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    harness, customer = _harness(db, fake_openai, fake_whatsapp, openai_reasoning_effort="low")
    fake_openai.add(Answer(MODEL_REPLY))
    customer.say(MANICURE)
    (request,) = fake_openai.requests
    assert (request.body["max_tokens"], request.body["temperature"]) == (1000, 0.7)
    assert "max_completion_tokens" not in request.body and "reasoning_effort" not in request.body

    fake_openai.reset()
    o3 = production_harness(
        db, harness.settings.model_copy(update={"openai_model": "o3"}), clock=Clock()
    )
    fake_openai.add(Answer(MODEL_REPLY))
    o3.process(o3.body("Хочу на педикюр", wamid="wamid.o3.1"))
    (request,) = fake_openai.requests
    assert request.body["reasoning_effort"] == "low"
    assert "temperature" not in request.body


def test_a_reasoning_model_sent_chat_parameters_is_refused_by_the_api(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the name-based detection overridden the wrong way (the fake, like the API,
    # refuses max_tokens for gpt-5-mini)
    _, customer = _harness(
        db, fake_openai, fake_whatsapp, openai_model="gpt-5-mini", openai_reasoning_model=False
    )
    fake_openai.add(Answer(MODEL_REPLY))

    customer.say(MANICURE)

    # Then the 400 was not retried and the guided flow answered
    assert len(fake_openai.requests) == 1
    assert fake_openai.remaining == 1
    assert customer.titles() == GUIDED_MASTERS


def test_an_unknown_model_is_priced_by_the_settings(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a compatible server's own model with its prices configured
    _, customer = _harness(
        db,
        fake_openai,
        fake_whatsapp,
        openai_model="qwen2.5-7b-instruct",
        openai_price_input_per_mtok=Decimal("0.20"),
        openai_price_output_per_mtok=Decimal("0.40"),
    )
    fake_openai.add(Answer(MODEL_REPLY))

    customer.say(MANICURE)

    (reply,) = _replies(db)
    expected = quote("x", input_per_mtok=Decimal("0.20"), output_per_mtok=Decimal("0.40")).price
    assert reply["cost"] == expected.cost(reply["prompt_tokens"], reply["completion_tokens"])
    assert fake_openai.requests[0].body["max_tokens"] == 1000
