"""Voice notes: the media downloaded from the fake WhatsApp API (Graph media URL, then
the bytes, both with the token), transcribed at the fake OpenAI audio endpoint under the
cost guard, and answered as if typed; without budget, the "please write" answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from salonbot.assistant.agent import openai_client
from salonbot.assistant.transcription import VoiceNotes
from salonbot.cost.audio_pricing import audio_cost, estimated_minutes
from salonbot.cost.guard_protocol import UnlimitedReservation, UnlimitedSpend
from salonbot.db.connection import Connection
from salonbot.errors import BudgetExceeded
from salonbot.observability import MetricName, metrics
from salonbot.processing.pipeline import REPLIED
from salonbot.texts import ru
from salonbot.whatsapp.client import access_token_for
from salonbot.whatsapp.events import InboundMessage, QueueEnvelope
from salonbot.whatsapp.media import MediaDownloader
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, Transcription
from tests.integration.processor.guided_harness import production_harness
from tests.integration.processor.harness import (
    ACCESS_TOKEN,
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

MEDIA_ID = "1146711633361111"
AUDIO = b"OggS\x00\x02" + bytes(range(256)) * 40  # 10 KB of a voice note


class RecordingGuard(UnlimitedSpend):
    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.reserved: list[Decimal] = []
        self.reconciled: list[Decimal] = []

    def reserve(self, **kwargs: Any) -> UnlimitedReservation:  # type: ignore[override]
        if self.refuse:
            raise BudgetExceeded("salon daily budget reached")
        self.reserved.append(kwargs["amount_usd"])
        return UnlimitedReservation(kwargs["reservation_id"], kwargs["amount_usd"])

    def reconcile(self, reservation: UnlimitedReservation, actual_usd: Decimal) -> None:
        self.reconciled.append(actual_usd)


def _voice_note_body() -> str:
    message = InboundMessage(
        phone_number_id=DEMO_PHONE_NUMBER_ID,
        message_id="wamid.voice.1",
        wa_id=CUSTOMER.lstrip("+"),
        timestamp=NOW,
        type="audio",
        payload={"mime_type": "audio/ogg; codecs=opus", "id": MEDIA_ID, "voice": True},
    )
    return QueueEnvelope(event=message, enqueued_at=NOW).model_dump_json()


def _harness(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp, guard: Any
) -> Harness:
    settings = settings_for(fake_openai, fake_whatsapp)
    client = openai_client(settings)
    assert client is not None
    media = MediaDownloader(
        settings.whatsapp_api_base_url, lambda pnid: access_token_for(settings, pnid)
    )
    voice = VoiceNotes(client, media, guard, model=settings.transcription_model)
    return production_harness(db, settings, clock=Clock(), voice_notes=voice)


def test_a_voice_note_is_transcribed_under_the_guard_and_answered_as_text(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given the note at WhatsApp, what it says at the audio API, and the model's answer
    import_demo_salon(db)
    fake_whatsapp.add_media(MEDIA_ID, AUDIO, "audio/ogg")
    fake_openai.transcripts[AUDIO] = Transcription("Хочу на маникюр завтра после пяти", 4.0)
    fake_openai.add(Answer("Завтра после 17:00 у Анны свободно 17:00 и 18:00. Какое удобно?"))
    guard = RecordingGuard()
    harness = _harness(db, fake_openai, fake_whatsapp, guard)
    metrics.clear_metrics()

    # When the voice note is processed
    assert harness.process(_voice_note_body()) == REPLIED

    # Then WhatsApp served the media with the token, the audio API got the bytes
    assert fake_whatsapp.media_downloads == [MEDIA_ID]
    [request] = fake_openai.transcription_requests
    assert request.model == "gpt-4o-mini-transcribe" and request.audio == AUDIO
    assert request.file_name.endswith(".ogg") and request.authorization
    # ... its cost was reserved first (from the note's size) and is priced per minute
    assert guard.reserved == [audio_cost("gpt-4o-mini-transcribe", estimated_minutes(len(AUDIO)))]
    assert guard.reconciled and guard.reconciled[0] > 0
    # ... the model read the transcript as the customer's words, the customer got its answer
    assert fake_openai.requests[0].body["messages"][-1]["content"] == (
        "Хочу на маникюр завтра после пяти"
    )
    assert "17:00" in "\n".join(fake_whatsapp.texts_to(CUSTOMER))
    # ... and the transcript is stored as the message
    [user] = rows(
        db, "SELECT content, message_type, cost, model FROM ai_messages WHERE role = 'user'"
    )
    assert (user["content"], user["message_type"], user["model"]) == (
        "Хочу на маникюр завтра после пяти",
        "audio",
        "gpt-4o-mini-transcribe",
    )
    # ... with its cost: the size's estimate (the gpt-4o transcribe models report tokens,
    # not seconds), which the guard was reconciled to
    assert user["cost"] == guard.reconciled[0] == guard.reserved[0]
    assert metrics.metric_set[MetricName.TRANSCRIPTIONS]["Value"] == [1.0]
    assert fake_whatsapp.sent[0].authorization == f"Bearer {ACCESS_TOKEN}"


def test_over_budget_a_voice_note_gets_the_please_write_answer(
    db: Connection, fake_openai: FakeOpenAI, fake_whatsapp: FakeWhatsApp
) -> None:
    # Given a salon whose budget is spent
    import_demo_salon(db)
    fake_whatsapp.add_media(MEDIA_ID, AUDIO, "audio/ogg")
    fake_openai.transcripts[AUDIO] = Transcription("Хочу на маникюр")
    harness = _harness(db, fake_openai, fake_whatsapp, RecordingGuard(refuse=True))

    # When the voice note is processed
    assert harness.process(_voice_note_body()) == REPLIED

    # Then nothing was transcribed, and the customer is asked to write
    assert fake_openai.transcription_requests == []
    assert ru.PHRASES["media"] in "\n".join(fake_whatsapp.texts_to(CUSTOMER))


def test_media_needs_the_access_token(fake_whatsapp: FakeWhatsApp) -> None:
    # Given a note at WhatsApp, When it is fetched without a token, Then 401
    import httpx2

    fake_whatsapp.add_media(MEDIA_ID, AUDIO)
    assert httpx2.get(f"{fake_whatsapp.url}/v21.0/{MEDIA_ID}").status_code == 401
    meta = httpx2.get(
        f"{fake_whatsapp.url}/v21.0/{MEDIA_ID}", headers={"Authorization": "Bearer t"}
    ).json()
    assert httpx2.get(meta["url"]).status_code == 401
    assert meta["file_size"] == len(AUDIO) and meta["mime_type"] == "audio/ogg"
