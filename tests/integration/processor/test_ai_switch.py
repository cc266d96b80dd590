"""The AI kill switch (`salonbot ai off|on`): a switched-off salon's customers are answered
by the guided flow at zero tokens (the model is never called) while other salons keep the
model; `--all` stops every salon and brings them back; a salon re-import does not reset
it; the router sees a change once its cache expires, and a failed read keeps the last
value; turns served while switched off are counted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from salonbot.assistant.agent import LlmAgent, openai_client
from salonbot.assistant.faq import FaqResponder
from salonbot.assistant.guided import GuidedFlow
from salonbot.assistant.router import AssistantRouter, WithLastResort
from salonbot.assistant.switch import CACHE_TTL_S, AiSwitch, read_switches, set_switch
from salonbot.booking.catalog import Salon
from salonbot.cost.guard_protocol import UnlimitedSpend
from salonbot.db.connection import Connection
from salonbot.errors import UnknownSalon
from salonbot.observability import MetricName, metrics
from salonbot_dev.cli import main
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.conftest import DEMO_SALON_ID
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.integration.processor.harness import (
    CUSTOMER,
    DEMO_PHONE_NUMBER_ID,
    Clock,
    Harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
    wire,
)

pytestmark = pytest.mark.integration

OTHER_SALON_ID = uuid.UUID("3f0c1a52-0000-4000-8000-000000000002")
OTHER_PHONE_NUMBER_ID = "100000000000002"
MODEL_REPLY = "Здравствуйте! Чем могу помочь?"


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def switch_harness(
    conn: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    monotonic: Monotonic | None = None,
) -> Harness:
    """The router as `build_router` makes it (FAQ, agent, guided flow, the switch), with
    the fake model and an injected clock for the switch's cache."""
    clock = Clock()
    settings = settings_for(fake_openai, fake_whatsapp, openai_max_retries=0)
    client = openai_client(settings)
    assert client is not None
    router = AssistantRouter(
        agent=LlmAgent(client, settings, guard=UnlimitedSpend(), clock=clock),
        fallback=WithLastResort(GuidedFlow(state_ttl=dt.timedelta(minutes=30), clock=clock)),
        faq=FaqResponder(),
        switch=AiSwitch(monotonic=monotonic or Monotonic()),
    )
    return wire(conn, settings, router, clock=clock)


def two_salons(conn: Connection) -> tuple[Salon, Salon]:
    demo = import_demo_salon(conn)
    other = import_demo_salon(
        conn,
        id=str(OTHER_SALON_ID),
        name="Salon Borealis",
        whatsapp_phone_number_id=OTHER_PHONE_NUMBER_ID,
    )
    return demo, other


def ai(database_url: str, *args: str) -> int:
    return main(["--database-url", database_url, "ai", *args])


def assistant_rows(conn: Connection, salon_id: uuid.UUID) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT content, prompt_tokens, completion_tokens, cost, model FROM ai_messages "
        "WHERE role = 'assistant' AND salon_id = %s ORDER BY id",
        salon_id,
    )


def greeting_is_guided(text: str) -> bool:
    return "Nail Studio Aurora" in text or "Salon Borealis" in text


def test_a_switched_off_salon_gets_the_guided_flow_at_zero_tokens_and_others_the_model(
    db: Connection, database_url: str, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given two salons with AI on, and the switch turned off for the demo salon only
    demo, other = two_salons(db)
    assert ai(database_url, "off", "--salon", str(demo.id)) == 0
    harness = switch_harness(db, fake_openai, fake_whatsapp)
    fake_openai.add(Answer(MODEL_REPLY))
    metrics.clear_metrics()

    # When a customer writes to each salon
    harness.say("Здравствуйте", phone=CUSTOMER)
    harness.say("Здравствуйте", phone="+79005550202", phone_number_id=OTHER_PHONE_NUMBER_ID)

    # Then the demo salon's customer got the guided flow's greeting, and the model was
    # asked exactly once: for the other salon's customer
    guided = sent_texts(fake_whatsapp, CUSTOMER)
    assert guided and greeting_is_guided(guided[0]), guided
    assert sent_texts(fake_whatsapp, "+79005550202") == [MODEL_REPLY]
    assert len(fake_openai.requests) == 1
    assert "Salon Borealis" in fake_openai.requests[0].system
    (reply,) = assistant_rows(db, demo.id)
    assert (reply["prompt_tokens"], reply["completion_tokens"], reply["cost"]) == (0, 0, 0)
    assert reply["model"] is None
    (model_reply,) = assistant_rows(db, other.id)
    assert model_reply["prompt_tokens"] > 0
    # and the switched-off turn was counted, once
    assert metrics.metric_set[MetricName.SWITCHED_OFF_TURNS]["Value"] == [1.0]
    metrics.clear_metrics()


def test_off_all_moves_every_salon_to_the_guided_flow_and_on_all_brings_the_model_back(
    db: Connection,
    database_url: str,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo, other = two_salons(db)
    monotonic = Monotonic()
    harness = switch_harness(db, fake_openai, fake_whatsapp, monotonic)

    # When every salon is switched off
    assert ai(database_url, "off", "--all") == 0
    assert "OFF for every salon" in capsys.readouterr().out
    harness.say("Здравствуйте", phone=CUSTOMER)
    harness.say("Здравствуйте", phone="+79005550202", phone_number_id=OTHER_PHONE_NUMBER_ID)

    # Then no model call was made for either
    assert fake_openai.requests == []
    assert greeting_is_guided(sent_texts(fake_whatsapp, CUSTOMER)[0])
    assert greeting_is_guided(sent_texts(fake_whatsapp, "+79005550202")[0])

    # When the demo salon is also switched off on its own, then every salon back on
    assert ai(database_url, "off", "--salon", str(demo.id)) == 0
    assert ai(database_url, "on", "--all") == 0
    out = capsys.readouterr().out
    assert "salons switched off on their own stay off" in out
    monotonic.now += CACHE_TTL_S
    fake_openai.add(Answer(MODEL_REPLY))
    harness.say("Как дела?", phone="+79005550202", phone_number_id=OTHER_PHONE_NUMBER_ID)
    harness.say("Как дела?", phone=CUSTOMER)

    # Then the other salon has the model again; the demo salon stays on the guided flow
    assert sent_texts(fake_whatsapp, "+79005550202")[-1] == MODEL_REPLY
    assert len(fake_openai.requests) == 1
    assert sent_texts(fake_whatsapp, CUSTOMER)[-1] != MODEL_REPLY

    # And `ai status` says so
    assert ai(database_url, "status") == 0
    status = capsys.readouterr().out
    assert "every salon: on" in status
    assert f"salon {demo.id} (Nail Studio Aurora): OFF since" in status
    assert str(other.id) not in status


def test_a_salon_re_import_does_not_reset_the_switch(db: Connection, database_url: str) -> None:
    # Given the demo salon switched off
    import_demo_salon(db)
    assert ai(database_url, "off", "--salon", str(DEMO_SALON_ID)) == 0

    # When the salon file is imported again (a change of prices, say)
    import_demo_salon(db)

    # Then it is still switched off, and recorded who did it
    (state,) = read_switches(db)
    db.rollback()
    assert (state.scope, state.off) == (str(DEMO_SALON_ID), True)
    assert "@" in state.changed_by


def test_an_unknown_salon_is_refused(
    db: Connection, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import_demo_salon(db)
    missing = "3f0c1a52-0000-4000-8000-0000000000ff"
    assert ai(database_url, "off", "--salon", missing) == 3
    assert f"no salon {missing}" in capsys.readouterr().err
    assert ai(database_url, "off", "--salon", "not-a-uuid") == 2
    with pytest.raises(UnknownSalon):
        set_switch(db, off=True, salon_id=uuid.UUID(missing), changed_by="test")
    db.rollback()
    assert read_switches(db) == []
    db.rollback()


def test_the_router_sees_a_change_once_its_cache_expires(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a router that has read the switch (on) at t = 1000 s
    import_demo_salon(db)
    monotonic = Monotonic()
    harness = switch_harness(db, fake_openai, fake_whatsapp, monotonic)
    fake_openai.add(Answer(MODEL_REPLY), Answer(MODEL_REPLY))
    harness.say("Здравствуйте")
    assert len(fake_openai.requests) == 1

    # When the switch goes off, the router keeps its cached value until the TTL is over
    set_switch(db, off=True, salon_id=DEMO_SALON_ID, changed_by="test")
    db.commit()
    monotonic.now += CACHE_TTL_S - 1
    harness.say("Как дела?")
    assert len(fake_openai.requests) == 2

    # and once it is, the next turn is served by the guided flow, without a model call
    monotonic.now += 1
    harness.say("Здравствуйте")
    assert len(fake_openai.requests) == 2
    last = assistant_rows(db, DEMO_SALON_ID)[-1]
    assert (last["model"], last["prompt_tokens"]) == (None, 0)
    assert greeting_is_guided(last["content"])


def test_a_failed_read_keeps_the_last_value_and_counts_an_error(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a router that read the switch as off
    import_demo_salon(db)
    set_switch(db, off=True, salon_id=DEMO_SALON_ID, changed_by="test")
    db.commit()
    monotonic = Monotonic()
    harness = switch_harness(db, fake_openai, fake_whatsapp, monotonic)
    harness.say("Здравствуйте")
    assert fake_openai.requests == []

    # When the table cannot be read at the next refresh (renamed away here)
    db.execute("ALTER TABLE ai_switch RENAME TO ai_switch_away")
    db.commit()
    try:
        monotonic.now += CACHE_TTL_S
        metrics.clear_metrics()
        outcome = harness.say("Здравствуйте")
        errors = dict(metrics.metric_set)
    finally:
        db.rollback()
        db.execute("ALTER TABLE ai_switch_away RENAME TO ai_switch")
        db.commit()

    # Then the turn was answered all the same, still switched off (no model call)
    assert outcome == "replied"
    assert fake_openai.requests == []
    assert [r["model"] for r in assistant_rows(db, DEMO_SALON_ID)] == [None, None]
    assert errors[MetricName.ERRORS]["Value"] == [1.0]
    assert errors[MetricName.SWITCHED_OFF_TURNS]["Value"] == [1.0]
    metrics.clear_metrics()


def test_a_first_read_that_fails_leaves_the_model_on(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    db.execute("ALTER TABLE ai_switch RENAME TO ai_switch_away")
    db.commit()
    try:
        harness = switch_harness(db, fake_openai, fake_whatsapp)
        fake_openai.add(Answer(MODEL_REPLY))
        harness.say("Здравствуйте")
    finally:
        db.rollback()
        db.execute("ALTER TABLE ai_switch_away RENAME TO ai_switch")
        db.commit()
    assert sent_texts(fake_whatsapp) == [MODEL_REPLY]


def test_a_faq_answer_while_switched_off_is_counted_too(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    import_demo_salon(db)
    set_switch(db, off=True, salon_id=None, changed_by="test")
    db.commit()
    harness = switch_harness(db, fake_openai, fake_whatsapp)
    metrics.clear_metrics()

    harness.say("Какой у вас адрес?", phone_number_id=DEMO_PHONE_NUMBER_ID)

    assert "Тверская" in sent_texts(fake_whatsapp)[-1]
    assert fake_openai.requests == []
    assert metrics.metric_set[MetricName.SWITCHED_OFF_TURNS]["Value"] == [1.0]
    metrics.clear_metrics()
