"""A customer's photo with a vision model (`OPENAI_VISION`): downloaded from the fake
WhatsApp API, shown to the fake OpenAI server as an image content part (a data URL),
reserved with the guard at the fixed per-image estimate; over budget, the staff get it."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from salonbot.assistant.vision import IMAGE_TOKENS
from salonbot.cost.guard_protocol import UnlimitedReservation, UnlimitedSpend
from salonbot.cost.pricing import price_for
from salonbot.db.connection import Connection
from salonbot.errors import BudgetExceeded
from salonbot.observability import MetricName, metrics
from salonbot.processing.pipeline import REPLIED
from salonbot.processing.queue import channel_parts
from salonbot.processing.staff import StaffNotifier
from salonbot.texts import ru
from salonbot.whatsapp.events import InboundMessage, QueueEnvelope
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI
from tests.integration.processor.guided_harness import production_harness
from tests.integration.processor.harness import (
    CUSTOMER,
    DEMO_PHONE_NUMBER_ID,
    NOW,
    Clock,
    Harness,
    import_demo_salon,
    rows,
    settings_for,
)

pytestmark = pytest.mark.integration

MEDIA_ID = "1003383421387256"
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 800  # 200 KB of a JPEG


class RecordingGuard(UnlimitedSpend):
    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.reserved: list[Decimal] = []

    def reserve(self, **kwargs: Any) -> UnlimitedReservation:  # type: ignore[override]
        if self.refuse:
            raise BudgetExceeded("salon daily budget reached")
        self.reserved.append(kwargs["amount_usd"])
        return UnlimitedReservation(kwargs["reservation_id"], kwargs["amount_usd"])


class RecordingStaff(StaffNotifier):
    def __init__(self) -> None:
        super().__init__(None)
        self.notes: list[dict[str, Any]] = []

    def notify(self, salon: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append(kwargs)


def _photo_body(caption: str | None = "Можно такой дизайн?") -> str:
    payload: dict[str, Any] = {"mime_type": "image/jpeg", "sha256": "aGFzaA==", "id": MEDIA_ID}
    if caption:
        payload["caption"] = caption
    message = InboundMessage(
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        message_id="wamid.photo.1",
        wa_id=CUSTOMER.lstrip("+"),
        timestamp=NOW,
        type="image",
        text=caption,
        payload=payload,
    )
    return QueueEnvelope(event=message, enqueued_at=NOW).model_dump_json()


def _harness(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, guard: Any, staff: Any
) -> Harness:
    settings = settings_for(
        fake_openai, fake_whatsapp, openai_vision=True, whatsapp_read_receipts=False
    )
    parts = channel_parts(settings.model_copy(update={"idempotency_table": None}))
    assert set(parts) >= {"photos"}
    return production_harness(
        db,
        settings,
        clock=Clock(),
        guard=guard,
        staff=staff,
        photos=parts["photos"],
    )


def test_a_vision_model_sees_the_photo_under_the_guard(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the photo at WhatsApp and a vision model's answer
    import_demo_salon(db)
    fake_whatsapp.add_media(MEDIA_ID, PHOTO, "image/jpeg")
    fake_openai.add(Answer("Такой дизайн делаем: маникюр с покрытием, 2500 ₽. Записать вас?"))
    guard, staff = RecordingGuard(), RecordingStaff()
    harness = _harness(db, fake_openai, fake_whatsapp, guard, staff)
    metrics.clear_metrics()

    # When the photo with its question is processed
    assert harness.process(_photo_body()) == REPLIED

    # Then WhatsApp served the photo, and the model got it as an image part
    assert fake_whatsapp.media_downloads == [MEDIA_ID]
    last = fake_openai.requests[0].body["messages"][-1]
    assert last["role"] == "user"
    assert last["content"] == [
        {"type": "text", "text": "Можно такой дизайн?"},
        {
            "type": "image_url",
            "image_url": {
                "url": "data:image/jpeg;base64," + base64.b64encode(PHOTO).decode(),
                "detail": "low",
            },
        },
    ]
    # ... the reservation counted the image at its fixed estimate, not its bytes
    [reserved] = guard.reserved
    price = price_for("gpt-4o-mini")
    assert reserved >= price.cost(IMAGE_TOKENS, 0)
    assert reserved < price.cost(len(base64.b64encode(PHOTO)), 0)
    # ... the customer got the model's answer, no hand-off
    assert fake_whatsapp.texts_to(CUSTOMER) == [
        "Такой дизайн делаем: маникюр с покрытием, 2500 ₽. Записать вас?"
    ]
    assert staff.notes == []
    assert MetricName.PHOTOS_SEEN in metrics.metric_set
    assert MetricName.PHOTOS_FOR_STAFF not in metrics.metric_set
    [user] = rows(db, "SELECT content, media_id, caption FROM ai_messages WHERE role = 'user'")
    assert user == {
        "content": "Можно такой дизайн?",
        "media_id": MEDIA_ID,
        "caption": user["content"],
    }


def test_over_budget_the_photo_goes_to_the_staff(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a vision model the salon's budget cannot pay for
    import_demo_salon(db)
    fake_whatsapp.add_media(MEDIA_ID, PHOTO, "image/jpeg")
    guard, staff = RecordingGuard(refuse=True), RecordingStaff()
    harness = _harness(db, fake_openai, fake_whatsapp, guard, staff)
    metrics.clear_metrics()

    # When a photo without words is processed
    assert harness.process(_photo_body(caption=None)) == REPLIED

    # Then no model call; the customer is told the staff will look, the staff are told now
    assert fake_openai.requests == []
    assert fake_whatsapp.texts_to(CUSTOMER) == [ru.PHRASES["photo_for_staff"]]
    [note] = staff.notes
    assert note["reason"] == "handoff" and note["text"] == "[image]"
    assert MetricName.PHOTOS_FOR_STAFF in metrics.metric_set
    # ... and the guided flow that answered the over-budget turn left nothing behind
    [conversation] = rows(db, "SELECT status, state FROM ai_conversations")
    assert conversation["status"] == "handoff" and not conversation["state"]
