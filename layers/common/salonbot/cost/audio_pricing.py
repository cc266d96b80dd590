"""USD prices per minute of audio, per transcription model: what the cost guard reserves
before a voice note is transcribed and what the message's cost records.

OpenAI list prices (standard tier, platform.openai.com/docs/pricing, "Transcription"):
gpt-4o-mini-transcribe $0.003/min, gpt-4o-transcribe $0.006/min, whisper-1 $0.006/min.
A model this table does not know is priced as the most expensive one here."""

from __future__ import annotations

from decimal import Decimal

AUDIO_PRICES_PER_MINUTE: dict[str, Decimal] = {
    "gpt-4o-mini-transcribe": Decimal("0.003"),
    "gpt-4o-transcribe": Decimal("0.006"),
    "whisper-1": Decimal("0.006"),
}

_MOST_EXPENSIVE = max(AUDIO_PRICES_PER_MINUTE.values())

# Voice notes are Opus at 16 to 32 kbit/s; assuming 8 kbit/s (60 KB a minute) overstates
# a note's length, so a reservation made from its size never falls short.
ASSUMED_BYTES_PER_MINUTE = 60_000
MIN_BILLED_MINUTES = Decimal("0.1")


def price_per_minute(model: str) -> Decimal:
    """Exact match first, then the longest known prefix (dated snapshots)."""
    if model in AUDIO_PRICES_PER_MINUTE:
        return AUDIO_PRICES_PER_MINUTE[model]
    for name in sorted(AUDIO_PRICES_PER_MINUTE, key=len, reverse=True):
        if model.startswith(name + "-"):
            return AUDIO_PRICES_PER_MINUTE[name]
    return _MOST_EXPENSIVE


def estimated_minutes(size_bytes: int) -> Decimal:
    """An upper bound of a voice note's length from its size."""
    minutes = Decimal(max(size_bytes, 0)) / Decimal(ASSUMED_BYTES_PER_MINUTE)
    return max(minutes, MIN_BILLED_MINUTES)


def audio_cost(model: str, minutes: Decimal) -> Decimal:
    return (price_per_minute(model) * minutes).quantize(Decimal("0.00000001"))
