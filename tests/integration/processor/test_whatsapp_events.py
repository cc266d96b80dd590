"""Every kind of event of the Cloud API messages webhook, as Meta posts it
(`tests/fixtures/whatsapp/*.json`, written from Meta's documented payloads), through the
webhook's parser and the processor on PostgreSQL, with the fake WhatsApp API over HTTP:
what the customer receives, what is stored, which metric moves."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from salonbot.db.connection import Connection
from salonbot.observability import MetricName, metrics
from salonbot.processing.pipeline import NO_REPLY, REPLIED, STATUS
from salonbot.texts import en, ru
from salonbot.whatsapp.client import access_token_for
from salonbot.whatsapp.read_receipts import ReadReceipts
from salonbot.whatsapp.webhook import parse_webhook, queue_body
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.integration.processor.guided_harness import production_harness
from tests.integration.processor.harness import (
    Clock,
    Harness,
    import_demo_salon,
    rows,
    settings_for,
)

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp"
CUSTOMER = "79001234567"
USER_ID = "RU.1502576394655843"


@dataclass(frozen=True)
class Expected:
    outcomes: list[str]  # the processor's outcome per event, in Meta's order
    # Who received replies (`to` or `recipient`); how many turns answered: `outcomes`.
    recipients: set[str]
    metric: str | None  # a metric the events move (None: statuses of delivered replies)
    stored: list[tuple[str, str]] = field(default_factory=list)  # (role, content part)
    typing: list[bool] = field(default_factory=list)  # per read receipt: typing shown
    check: str | None = None  # a named extra check below


CASES: dict[str, Expected] = {
    "text": Expected(
        [REPLIED],
        {CUSTOMER},
        MetricName.REPLIES_SENT,
        [("user", "Хочу записаться на маникюр")],
        [True],
    ),
    "username_text": Expected(
        [REPLIED],
        {USER_ID},
        MetricName.REPLIES_SENT,
        [("user", "can I book a manicure")],
        [True],
        "username",
    ),
    "reaction": Expected(
        [NO_REPLY], set(), MetricName.REACTIONS, [("user", "reaction 👍")], [False]
    ),
    "reaction_removed": Expected(
        [NO_REPLY], set(), MetricName.REACTIONS, [("user", "reaction removed")], [False]
    ),
    "edit": Expected(
        [REPLIED, NO_REPLY],
        {CUSTOMER},
        MetricName.MESSAGES_EDITED,
        [("user", "Хочу на маникюр")],
        [True, False],
        "edited",
    ),
    "revoke": Expected(
        [REPLIED, NO_REPLY],
        {CUSTOMER},
        MetricName.MESSAGES_REVOKED,
        [],
        [True, False],
        "revoked",
    ),
    "system_user_changed_number": Expected(
        [REPLIED, NO_REPLY],
        {CUSTOMER},
        MetricName.NUMBERS_CHANGED,
        [("system", "changed their phone number")],
        [True, False],
        "number_changed",
    ),
    "system_customer_identity_changed": Expected(
        [NO_REPLY],
        set(),
        MetricName.IDENTITY_CHANGES,
        [("system", "security code changed")],
        [False],
    ),
    "location": Expected(
        [REPLIED],
        {CUSTOMER},
        MetricName.REPLIES_SENT,
        [("user", "location: Салон Лак, Москва, ул. Тверская, 7 (55.760241")],
        [True],
    ),
    "contacts": Expected(
        [REPLIED],
        {CUSTOMER},
        MetricName.REPLIES_SENT,
        [("user", "contact: Ольга Петрова: +7 900 111-22-33")],
        [True],
    ),
    "image_caption": Expected(
        [REPLIED],
        {CUSTOMER},
        MetricName.PHOTOS_FOR_STAFF,
        [("user", "Хочу такой дизайн ногтей")],
        [True],
        "photo_with_caption",
    ),
    "image": Expected(
        [REPLIED], {CUSTOMER}, MetricName.PHOTOS_FOR_STAFF, [("user", "[image]")], [True], "photo"
    ),
    "image_then_question": Expected(
        [REPLIED, REPLIED],
        {CUSTOMER},
        MetricName.PHOTOS_FOR_STAFF,
        [("user", "Мой прошлый маникюр"), ("user", "Можно так же?")],
        [True, True],
        "photo_then_question",
    ),
    "referral_ad": Expected(
        [REPLIED],
        {CUSTOMER},
        MetricName.REPLIES_SENT,
        [("user", "подробнее про акцию")],
        [True],
        "referral",
    ),
    "reply_to_our_message": Expected(
        [REPLIED, REPLIED],
        {CUSTOMER},
        MetricName.REPLIES_SENT,
        [("user", "А можно на это время?")],
        [True, True],
        "quoted",
    ),
    "voice_note_without_model": Expected(
        [REPLIED],
        {CUSTOMER},
        MetricName.REPLIES_SENT,
        [("user", "[audio]")],
        [True],
        "please_write",
    ),
    "unsupported": Expected(
        [REPLIED], {CUSTOMER}, MetricName.REPLIES_SENT, [("user", "[unsupported]")], [True]
    ),
    "status_username": Expected([STATUS], set(), None, check="status"),
    "status_failed": Expected([STATUS], set(), MetricName.ERRORS),
}


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(CASES)


def _harness(db: Connection, fake_whatsapp: FakeWhatsApp) -> Harness:
    settings = settings_for(None, fake_whatsapp)
    receipts = ReadReceipts(
        settings.whatsapp_api_base_url, lambda pnid: access_token_for(settings, pnid)
    )
    return production_harness(db, settings, clock=Clock(), receipts=receipts)


def _receipts(fake: FakeWhatsApp, count: int) -> list[bool]:
    deadline = time.monotonic() + 3
    while len(fake.read_receipts) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return [r.typing for r in fake.read_receipts]


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_event_kind_has_its_outcome(
    name: str, db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the demo salon and the webhook body Meta posts
    salon = import_demo_salon(db)
    expected = CASES[name]
    harness = _harness(db, fake_whatsapp)
    metrics.clear_metrics()
    parsed = parse_webhook((FIXTURES / f"{name}.json").read_bytes())
    assert parsed.invalid == 0

    # When each queued event is processed, in Meta's order
    outcomes = [
        harness.process(queue_body(event, float(event.timestamp))) for event in parsed.events
    ]

    # Then the outcomes, the replies and the read receipts are the kind's
    assert outcomes == expected.outcomes
    assert {message.to for message in fake_whatsapp.sent} == expected.recipients
    assert _receipts(fake_whatsapp, len(expected.typing)) == expected.typing
    # ... the metric moved
    assert expected.metric is None or expected.metric in metrics.metric_set
    # ... and what is stored
    stored = rows(db, "SELECT role, content FROM ai_messages ORDER BY id")
    for role, part in expected.stored:
        assert any(r["role"] == role and part in r["content"] for r in stored), stored
    if expected.check:
        CHECKS[expected.check](db, fake_whatsapp, salon.id)


def _username(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    # Keyed by the user id; the reply goes to `recipient`, with no `to`
    [conversation] = rows(db, "SELECT id, phone_number FROM ai_conversations")
    assert conversation == {"id": f"conv_{salon_id}_{USER_ID}", "phone_number": USER_ID}
    [reply] = fake.sent
    assert reply.payload["recipient"] == USER_ID and "to" not in reply.payload


def _edited(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    [user] = rows(db, "SELECT content, edited_at FROM ai_messages WHERE role = 'user'")
    assert user["content"] == "Хочу на маникюр" and user["edited_at"] is not None


def _revoked(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    [user] = rows(db, "SELECT content, deleted_at FROM ai_messages WHERE role = 'user'")
    assert user["content"] == "" and user["deleted_at"] is not None


def _number_changed(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    conversations = rows(db, "SELECT id, phone_number, message_count FROM ai_conversations")
    assert conversations == [
        {"id": f"conv_{salon_id}_79005556677", "phone_number": "+79005556677", "message_count": 3}
    ]


def _referral(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    [conversation] = rows(db, "SELECT referral, referral_at FROM ai_conversations")
    assert conversation["referral"]["ctwa_clid"].startswith("ARAkLkA8")
    assert conversation["referral"]["source_type"] == "ad"
    assert conversation["referral_at"] is not None


def _quoted(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    [reply_to] = rows(
        db, "SELECT reply_to_message_id FROM ai_messages WHERE reply_to_message_id IS NOT NULL"
    )
    assert reply_to == {"reply_to_message_id": "wamid.fake.1"}


def _please_write(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    replies = "\n".join(fake.texts_to(CUSTOMER))
    assert ru.PHRASES["media"] in replies or en.PHRASES["media"] in replies


def _photo_rows(db: Connection) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT media_id, media_mime_type, caption FROM ai_messages "
        "WHERE role = 'user' AND message_type = 'image'",
    )


def _handed_to_staff(db: Connection, fake: FakeWhatsApp) -> None:
    # The customer is told the staff will look at the photo; the staff have the conversation
    assert fake.texts_to(CUSTOMER)[-1] == ru.PHRASES["photo_for_staff"]
    [conversation] = rows(db, "SELECT status FROM ai_conversations")
    assert conversation["status"] == "handoff"
    [reply] = rows(
        db, "SELECT handoff, notes FROM ai_messages WHERE role = 'assistant' AND handoff"
    )
    assert reply["notes"] == ["photo_for_staff"]


def _photo_with_caption(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    assert _photo_rows(db) == [
        {
            "media_id": "1003383421387256",
            "media_mime_type": "image/jpeg",
            "caption": "Хочу такой дизайн ногтей",
        }
    ]
    _handed_to_staff(db, fake)


def _photo(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    assert _photo_rows(db) == [
        {"media_id": "1003383421387299", "media_mime_type": "image/jpeg", "caption": None}
    ]
    _handed_to_staff(db, fake)


def _photo_then_question(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    # A caption that asks nothing is answered as usual; the question right after goes to staff
    assert _photo_rows(db)[0]["caption"] == "Мой прошлый маникюр"
    replies = fake.texts_to(CUSTOMER)
    assert len(replies) == 2 and replies[0] != ru.PHRASES["photo_for_staff"]
    _handed_to_staff(db, fake)


def _status(db: Connection, fake: FakeWhatsApp, salon_id: Any) -> None:
    [status] = rows(db, "SELECT recipient, recipient_user_id, status FROM message_statuses")
    assert status == {"recipient": None, "recipient_user_id": USER_ID, "status": "delivered"}


CHECKS = {
    "username": _username,
    "edited": _edited,
    "revoked": _revoked,
    "number_changed": _number_changed,
    "referral": _referral,
    "quoted": _quoted,
    "please_write": _please_write,
    "status": _status,
    "photo_with_caption": _photo_with_caption,
    "photo": _photo,
    "photo_then_question": _photo_then_question,
}


def test_a_reply_to_a_username_user_is_accepted_by_the_send_api(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a username user's message, When it is answered
    import_demo_salon(db)
    harness = _harness(db, fake_whatsapp)
    [event] = parse_webhook((FIXTURES / "username_text.json").read_bytes()).events
    harness.process(queue_body(event, float(event.timestamp)))
    # Then the wamid the fake API gave is the ledger's, the status can name it
    [row] = rows(db, "SELECT phone_number, reply_status FROM inbound_messages")
    assert row == {"phone_number": USER_ID, "reply_status": "sent"}
    assert json.dumps(fake_whatsapp.sent[0].payload).count(USER_ID) == 1


def test_a_slow_read_receipt_never_delays_the_reply(
    db: Connection, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given WhatsApp answering read receipts only after 3 s
    import_demo_salon(db)
    harness = _harness(db, fake_whatsapp)
    fake_whatsapp.read_receipt_delay_s = 3.0
    [event] = parse_webhook((FIXTURES / "text.json").read_bytes()).events

    # When the message is processed
    started = time.monotonic()
    outcome = harness.process(queue_body(event, float(event.timestamp)))
    elapsed = time.monotonic() - started

    # Then the reply went out without waiting for the receipt
    assert outcome == REPLIED and fake_whatsapp.sent_to(CUSTOMER)
    assert elapsed < 2.0, elapsed


def test_the_model_reads_the_reply_of_ours_a_customer_quotes(
    db: Connection, fake_whatsapp: FakeWhatsApp, fake_openai: FakeOpenAI
) -> None:
    # Given our first reply (wamid.fake.1), then the customer quoting it
    import_demo_salon(db)
    settings = settings_for(fake_openai, fake_whatsapp)
    harness = production_harness(db, settings, clock=Clock())
    fake_openai.add(Answer("Здравствуйте! На 14:00 в среду можно записать вас к Анне."))
    fake_openai.add(Answer("Хорошо, подтвердите, пожалуйста: среда, 14:00."))
    events = parse_webhook((FIXTURES / "reply_to_our_message.json").read_bytes()).events

    # When both are processed
    for event in events:
        assert harness.process(queue_body(event, float(event.timestamp))) == REPLIED

    # Then the second call showed the model the words and what they reply to
    last = fake_openai.requests[-1].body["messages"][-1]["content"]
    assert last == (
        "А можно на это время?\n"
        "(in reply to: «Здравствуйте! На 14:00 в среду можно записать вас к Анне.»)"
    )
