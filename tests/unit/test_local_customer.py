"""The local customer's phone: Meta-shaped, signed webhook payloads; outgoing Cloud API
messages rendered with numbered choices; the handlers' environment; the demo's choices."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from salonbot.whatsapp.outgoing import ButtonsMessage, ListMessage, Option, to_payload
from salonbot_dev.fakes.customer import Choice, CustomerPhone, reply_from_payload, sign
from salonbot_dev.local.demo import pick
from salonbot_dev.local.environment import LOCAL_APP_SECRET, handler_environment
from salonbot_dev.local.functions import FunctionSpec


def phone() -> CustomerPhone:
    return CustomerPhone("http://127.0.0.1:3000", "secret", "100000000000001", "+79001234567")


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = '{"a": "Привет"}'.encode()
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert sign(body, "secret") == f"sha256={expected}"


def test_text_payload_has_meta_shape() -> None:
    payload = phone().text_payload("Хочу на маникюр")
    assert payload["object"] == "whatsapp_business_account"
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == "100000000000001"
    assert value["contacts"][0]["wa_id"] == "79001234567"
    (message,) = value["messages"]
    assert message["from"] == "79001234567"
    assert message["type"] == "text" and message["text"] == {"body": "Хочу на маникюр"}
    assert message["id"].startswith("wamid.")
    # Each message gets its own id
    assert (
        phone().text_payload("x")["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        != message["id"]
    )


def test_list_and_button_replies() -> None:
    listed = phone().choice_payload(Choice("svc:1", "Маникюр", "60 мин", "list_reply"))
    message = listed["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "interactive"
    assert message["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "svc:1", "title": "Маникюр", "description": "60 мин"},
    }
    button = phone().choice_payload(Choice("yes", "Да", None, "button_reply"))
    assert button["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "yes", "title": "Да"},
    }


def test_outgoing_interactive_messages_render_as_numbered_choices() -> None:
    listed = to_payload(
        ListMessage(
            body="Выберите услугу",
            button="Услуги",
            options=[
                Option(id="a", title="Маникюр", description="1500 ₽"),
                Option(id="b", title="Педикюр"),
            ],
        ),
        "+79001234567",
    )
    reply = reply_from_payload(listed)
    assert [c.id for c in reply.choices] == ["a", "b"]
    assert reply.render() == "Выберите услугу\n  1. Маникюр — 1500 ₽\n  2. Педикюр"
    buttons = reply_from_payload(
        to_payload(ButtonsMessage(body="Записать?", options=[Option(id="y", title="Да")]), "+7")
    )
    assert buttons.choices == (Choice("y", "Да", None, "button_reply"),)
    text = reply_from_payload({"type": "text", "text": {"body": "Готово"}})
    assert (text.text, text.choices) == ("Готово", ())


def test_demo_picks_confirmation_then_the_manicure_and_avoids_cancel() -> None:
    assert pick([Choice("n", "Нет"), Choice("y", "Да, записать")]).id == "y"
    assert pick([Choice("p", "Педикюр"), Choice("m", "Маникюр")]).id == "m"
    assert pick([Choice("c", "Отменить"), Choice("t", "12:00")]).id == "t"


def test_local_secrets_and_addresses_override_the_template() -> None:
    spec = FunctionSpec(
        logical_id="WebhookFunction",
        code_dir=Path("/x"),
        handler="app.lambda_handler",
        timeout_s=10,
        memory_mb=256,
        environment={
            "QUEUE_URL": "http://moto/q.fifo",
            "WHATSAPP_APP_SECRET_ARN": "arn:secret:app",
            "OPENAI_API_KEY_SECRET_ARN": "arn:secret:openai",
            "OPENAI_MODEL": "gpt-4o-mini",
            "LOG_LEVEL": "INFO",
        },
    )
    variables, removed = handler_environment(
        [spec],
        local={"DATABASE_URL": "postgresql://local", "AWS_ENDPOINT_URL": "http://moto"},
        user={"OPENAI_MODEL": "gpt-4o", "QUEUE_URL": "http://stale", "HOME": "/root"},
        created=["http://moto/q.fifo"],
    )
    # The app secret has its documented local value; the OpenAI pointer is gone (no key)
    assert variables["WHATSAPP_APP_SECRET"] == LOCAL_APP_SECRET
    assert "OPENAI_API_KEY_SECRET_ARN" in removed
    assert "OPENAI_API_KEY_SECRET_ARN" not in variables
    # The user's setting wins, but not over a resource the stack created
    assert variables["OPENAI_MODEL"] == "gpt-4o"
    assert variables["QUEUE_URL"] == "http://moto/q.fifo"
    assert "HOME" not in variables
    assert variables["LOG_LEVEL"] == "WARNING"
    assert variables["DATABASE_URL"] == "postgresql://local"
    # With a key exported, the model is used
    with_key, _ = handler_environment([spec], local={}, user={"OPENAI_API_KEY": "sk-test"})
    assert with_key["OPENAI_API_KEY"] == "sk-test"


def test_a_template_reminder_shows_its_values_and_taps_its_quick_replies() -> None:
    from salonbot.outbound.templates import Template, template_payload

    template = Template(
        salon_id=__import__("uuid").uuid4(),
        purpose="reminder",
        language="ru",
        name="visit_reminder",
        category="utility",
        body="{{1}} в {{2}}",
        body_parameters=("service", "start_time"),
        buttons=("confirm", "cancel"),
        status="approved",
    )
    payload = template_payload(
        template, "+79001234567", {"service": "Маникюр", "start_time": "11:00"}, code="AB12CD"
    )
    reply = reply_from_payload(payload)
    assert reply.text == "[template visit_reminder] Маникюр | 11:00"
    assert [(c.id, c.title, c.kind) for c in reply.choices] == [
        ("booking:confirm:AB12CD", "Confirm", "button"),
        ("booking:cancel:AB12CD", "Cancel", "button"),
    ]
    tap = phone().choice_payload(reply.choices[0])
    message = tap["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "button"
    assert message["button"] == {"payload": "booking:confirm:AB12CD", "text": "Confirm"}
