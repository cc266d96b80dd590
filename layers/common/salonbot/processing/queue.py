"""Entry point for one SQS record body, with the processor built once per container."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from salonbot.config import get_settings
from salonbot.observability import count_error, logger
from salonbot.processing.pipeline import DROPPED, MessageProcessor
from salonbot.whatsapp.events import QueueEnvelope

if TYPE_CHECKING:
    from salonbot.config import Settings


@lru_cache(maxsize=1)
def default_processor() -> MessageProcessor:
    from salonbot.assistant.router import build_router
    from salonbot.processing.staff import StaffNotifier
    from salonbot.whatsapp.client import WhatsAppClient

    settings = get_settings()
    return MessageProcessor(
        settings,
        assistant=build_router(settings),
        whatsapp=WhatsAppClient(settings),
        staff=StaffNotifier(
            settings.staff_topic_arn or settings.alert_topic_arn, console_url=settings.console_url
        ),
        **channel_parts(settings),
    )


def channel_parts(settings: Settings) -> dict[str, Any]:
    """The processor's optional parts as configured: read receipts, the voice-note
    transcriber (with a model key), the burst check (with the idempotency table), the
    photo downloads of a vision model (`OPENAI_VISION`, with a model key)."""
    from salonbot.assistant.agent import openai_client
    from salonbot.assistant.transcription import VoiceNotes
    from salonbot.cost.guard import from_settings
    from salonbot.cost.guard_protocol import UnlimitedSpend
    from salonbot.processing.bursts import BurstWatch
    from salonbot.whatsapp.client import access_token_for
    from salonbot.whatsapp.media import MAX_PHOTO_BYTES, MediaDownloader
    from salonbot.whatsapp.read_receipts import ReadReceipts

    def token_for(phone_number_id: str) -> str:
        return access_token_for(settings, phone_number_id)

    base = settings.whatsapp_api_base_url
    parts: dict[str, Any] = {}
    if settings.whatsapp_read_receipts:
        parts["receipts"] = ReadReceipts(
            base, token_for, timeout_s=settings.whatsapp_read_receipt_timeout_s
        )
    client = openai_client(settings) if settings.transcription_enabled else None
    if client is not None:
        parts["voice_notes"] = VoiceNotes(
            client,
            MediaDownloader(base, token_for, timeout_s=settings.whatsapp_timeout_s),
            from_settings(settings) or UnlimitedSpend(),
            model=settings.transcription_model,
            timeout_s=settings.openai_timeout_s,
        )
    if settings.openai_vision and openai_client(settings) is not None:
        parts["photos"] = MediaDownloader(
            base, token_for, timeout_s=settings.whatsapp_timeout_s, max_bytes=MAX_PHOTO_BYTES
        )
    if settings.idempotency_table:
        parts["bursts"] = BurstWatch(settings.idempotency_table, wait_ms=settings.burst_wait_ms)
    return parts


def process_queue_body(body: str, processor: MessageProcessor | None = None) -> str:
    """Process one queue message. Raises when it should be retried; a body that can never
    be processed (not a queue envelope) is logged, counted and dropped."""
    try:
        envelope = QueueEnvelope.model_validate_json(body)
    except ValidationError as exc:
        count_error("invalid_queue_message")
        logger.error(
            "queue message is not an envelope: dropped",
            extra={"errors": exc.error_count(), "size": len(body)},
        )
        return DROPPED
    return (processor or default_processor()).process(envelope)
