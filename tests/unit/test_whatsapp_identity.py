"""Username customers (business-scoped user ids) and what a non-text message says: how
the webhook reads them, how salonbot keys and addresses them, what the engines read."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from salonbot.booking.store import normalize_phone
from salonbot.errors import InvalidInput
from salonbot.whatsapp.content import describe
from salonbot.whatsapp.events import CustomerMessage
from salonbot.whatsapp.identity import customer_key, is_user_id, send_address
from salonbot.whatsapp.outgoing import TextMessage, to_payload
from salonbot.whatsapp.webhook import parse_webhook
from tests.fakes.meta_webhook import change_value, message, payload, status

USER_ID = "US.13491208655302741918"
NOW = dt.datetime(2030, 1, 7, 6, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (USER_ID, True),
        ("US.ENT.11815799212886844830", True),  # a parent user id
        ("BR.1502576394655843", True),
        ("79001234567", False),
        ("+79001234567", False),
        ("us.1349", False),
        ("US.", False),
        ("US.1349-1208", False),
        ("USA.1349", False),
        ("US." + "1" * 129, False),
    ],
)
def test_user_ids_as_whatsapp_writes_them(value: str, expected: bool) -> None:
    assert is_user_id(value) is expected


def test_a_customer_is_keyed_and_addressed_by_number_or_user_id() -> None:
    assert customer_key("79001234567") == "+79001234567"
    assert customer_key(USER_ID) == USER_ID
    assert send_address("+79001234567") == {"to": "79001234567"}
    assert send_address(USER_ID) == {"recipient": USER_ID}
    body = to_payload(TextMessage(body="Здравствуйте!"), USER_ID)
    assert body["recipient"] == USER_ID and "to" not in body


@pytest.mark.parametrize(
    ("given", "kept"),
    [(" US.13491208655302741918 ", USER_ID), ("+7 (900) 123-45-67", "+79001234567")],
)
def test_every_phone_field_accepts_a_user_id(given: str, kept: str) -> None:
    assert normalize_phone(given) == kept


@pytest.mark.parametrize("bad", ["US.", "us.123", "hello", "+7900"])
def test_neither_a_number_nor_a_user_id_is_refused_naming_both(bad: str) -> None:
    with pytest.raises(InvalidInput, match="user id") as error:
        normalize_phone(bad)
    assert error.value.field == "phone"


def _parse(*messages: dict[str, object], contacts: list[dict[str, object]] | None = None):  # type: ignore[no-untyped-def]
    body = payload(change_value(list(messages), contacts=contacts))
    return parse_webhook(json.dumps(body).encode())


def test_a_username_user_s_message_is_received_under_their_user_id() -> None:
    # Given Meta's shape: no `from`, `from_user_id`, and a contact with only a user id
    raw = message("text", {"body": "Hi"})
    del raw["from"]
    raw["from_user_id"] = USER_ID
    parsed = _parse(
        raw, contacts=[{"profile": {"name": "Kate", "username": "@kate"}, "user_id": USER_ID}]
    )
    # Then it is an event, keyed by the user id, with the profile name
    assert parsed.invalid == 0
    [event] = parsed.events
    assert (event.wa_id, event.user_id, event.contact_name) == (USER_ID, USER_ID, "Kate")
    assert event.group_id.endswith(f":{USER_ID}")


def test_a_message_without_any_sender_is_invalid() -> None:
    raw = message()
    del raw["from"]
    assert _parse(raw).invalid == 1


def test_a_status_carries_the_recipient_s_user_id() -> None:
    item = status("read")
    del item["recipient_id"]
    item["recipient_user_id"] = USER_ID
    body = payload(change_value(statuses=[item]))
    [event] = parse_webhook(json.dumps(body).encode()).events
    assert event.recipient_user_id == USER_ID and event.recipient_id is None


def _customer(kind: str, payload_: dict[str, object], **kwargs: object) -> CustomerMessage:
    return CustomerMessage(
        wa_id="79001234567", timestamp=NOW, type=kind, payload=payload_, **kwargs
    )  # type: ignore[arg-type]


def test_the_engines_read_content_not_placeholders() -> None:
    place = {"latitude": 55.75, "longitude": 37.61, "name": "Лак", "address": "Тверская, 7"}
    assert _customer("location", place).said == "location: Лак, Тверская, 7 (55.750000, 37.610000)"
    card = {"contacts": [{"name": {"formatted_name": "Ольга"}, "phones": [{"phone": "+7 900"}]}]}
    assert _customer("contacts", card).said == "contact: Ольга: +7 900"
    assert _customer("reaction", {"emoji": "❤️", "message_id": "w"}).said == "reaction ❤️"
    assert _customer("sticker", {"id": "1"}).said == "[sticker]"
    assert describe("location", {}) is None


def test_a_reply_names_the_quoted_message_and_the_model_reads_its_text() -> None:
    quoting = _customer(
        "text", {"context": {"from": "79000000001", "id": "wamid.OUR"}}, text="Да, подходит"
    )
    assert quoting.reply_to_message_id == "wamid.OUR"
    with_quote = quoting.model_copy(update={"quoted_text": "Записать вас на 14:00?"})
    assert with_quote.turn_text == "Да, подходит"  # the guided flow reads only the words
    assert with_quote.model_text == "Да, подходит\n(in reply to: «Записать вас на 14:00?»)"
    assert _customer("text", {}, text="x").reply_to_message_id is None


def test_a_click_to_whatsapp_referral_is_exposed() -> None:
    referral = {"source_type": "ad", "source_id": "1", "ctwa_clid": "ARAk"}
    assert _customer("text", {"referral": referral}, text="Hi").referral == referral
    assert _customer("text", {}, text="Hi").referral is None


def test_a_burst_s_earlier_texts_come_first_one_a_line() -> None:
    last = _customer("text", {}, text="завтра после 5")
    burst = last.model_copy(update={"earlier": ("Привет", "хочу на маникюр")})
    assert burst.turn_text == "Привет\nхочу на маникюр\nзавтра после 5"
    assert "earlier" not in burst.model_dump_json()
