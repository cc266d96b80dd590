"""Entry point for one SQS record body, with the processor built once per container."""

from __future__ import annotations

from functools import lru_cache

from pydantic import ValidationError

from salonbot.config import get_settings
from salonbot.observability import count_error, logger
from salonbot.processing.pipeline import DROPPED, MessageProcessor
from salonbot.whatsapp.events import QueueEnvelope


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
    )


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
