"""Voice notes as text: the customer's audio, downloaded from WhatsApp, transcribed by
OpenAI's audio API (`POST /v1/audio/transcriptions`, model `TRANSCRIPTION_MODEL`).

Under the cost guard like a chat call: the note's cost is reserved before the call (its
length estimated from its size, priced per minute by `salonbot.cost.audio_pricing`),
reconciled to the length the API reports (else the estimate stands), released when the
call fails. Without a model key, over budget, or when anything fails, there is no
transcript and the engines answer as they answer any audio: "please write"."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salonbot.cost.audio_pricing import audio_cost, estimated_minutes
from salonbot.errors import BudgetExceeded
from salonbot.observability import MetricName, count_error, logger, metrics
from salonbot.whatsapp.media import MediaUnavailable

if TYPE_CHECKING:
    from openai import OpenAI

    from salonbot.booking.catalog import Salon
    from salonbot.cost.guard_protocol import SpendGuard
    from salonbot.whatsapp.events import CustomerMessage
    from salonbot.whatsapp.media import MediaDownloader

_EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "audio/wav": "wav",
    "audio/webm": "webm",
}


@dataclass(frozen=True)
class Transcript:
    text: str
    cost: Decimal
    model: str


class VoiceNotes:
    def __init__(
        self,
        client: OpenAI,
        media: MediaDownloader,
        guard: SpendGuard[Any],
        *,
        model: str,
        timeout_s: float = 20.0,
    ) -> None:
        self._client = client
        self._media = media
        self._guard = guard
        self._model = model
        self._timeout_s = timeout_s

    def transcribe(
        self, salon: Salon, message: CustomerMessage, phone_number_id: str
    ) -> Transcript | None:
        """The note's transcript, or None (no media id, over budget, or a failure)."""
        media_id = message.payload.get("id")
        if not isinstance(media_id, str) or not media_id:
            return None
        try:
            media = self._media.download(phone_number_id, media_id)
        except MediaUnavailable as exc:
            count_error("voice_note_download")
            logger.warning("voice note not downloaded", extra={"error": str(exc)})
            return None
        estimate = audio_cost(self._model, estimated_minutes(len(media.data)))
        try:
            reservation = self._guard.reserve(
                salon_id=str(salon.id),
                timezone=salon.timezone,
                daily_budget_usd=Decimal(salon.daily_budget_usd),
                amount_usd=estimate,
                reservation_id=f"{message.message_id or 'api'}:audio:{uuid.uuid4().hex}",
                customer_phone=message.phone,
                customer_daily_budget_usd=salon.customer_daily_budget_usd,
            )
        except BudgetExceeded:
            logger.info("voice note not transcribed: over budget")
            return None
        except Exception:
            count_error("cost_guard")
            logger.exception("cost guard reserve failed: voice note not transcribed")
            return None
        try:
            metrics.add_metric(name=MetricName.TRANSCRIPTIONS, unit="Count", value=1)
            result = self._client.audio.transcriptions.create(
                model=self._model,
                file=(_file_name(media.mime_type), media.data, media.mime_type or "audio/ogg"),
                timeout=self._timeout_s,
            )
        except Exception as exc:
            self._settle(self._guard.release, reservation)
            count_error("transcription")
            logger.warning("voice note not transcribed", extra={"error": type(exc).__name__})
            return None
        cost = _reported_cost(self._model, result) or estimate
        self._settle(self._guard.reconcile, reservation, cost)
        text = " ".join(str(getattr(result, "text", "") or "").split())
        return Transcript(text, cost, self._model) if text else None

    @staticmethod
    def _settle(action: Any, *args: Any) -> None:
        try:
            action(*args)
        except Exception:
            count_error("cost_guard")
            logger.exception("cost guard settle failed after a transcription")


def _file_name(mime_type: str) -> str:
    return "voice." + _EXTENSIONS.get(mime_type.split(";")[0].strip(), "ogg")


def _reported_cost(model: str, result: Any) -> Decimal | None:
    """The cost of the length the API reports (`usage.seconds`), if it reports one."""
    usage = getattr(result, "usage", None)
    seconds = getattr(usage, "seconds", None) if usage is not None else None
    if isinstance(seconds, int | float) and seconds > 0:
        return audio_cost(model, Decimal(str(seconds)) / Decimal(60))
    return None
