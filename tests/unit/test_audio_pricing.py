"""Transcription priced per minute: the table, dated snapshots, unknown models, and the
estimate a voice note's size gives before the call."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from salonbot.assistant.transcription import _reported_cost
from salonbot.cost.audio_pricing import (
    ASSUMED_BYTES_PER_MINUTE,
    audio_cost,
    estimated_minutes,
    price_per_minute,
)


def test_prices_per_minute_with_dated_snapshots_and_unknown_models_at_the_dearest() -> None:
    assert price_per_minute("gpt-4o-mini-transcribe") == Decimal("0.003")
    assert price_per_minute("gpt-4o-mini-transcribe-2025-12-15") == Decimal("0.003")
    assert price_per_minute("whisper-1") == Decimal("0.006")
    assert price_per_minute("local-whisper-large") == Decimal("0.006")


def test_the_estimate_from_a_note_s_size_never_falls_short() -> None:
    # A 30 s Opus note at 16 kbit/s is 60 KB: estimated at a full minute
    assert estimated_minutes(60_000) == Decimal(1)
    assert estimated_minutes(0) == Decimal("0.1")  # the least a call is reserved for
    assert audio_cost(
        "gpt-4o-mini-transcribe", estimated_minutes(ASSUMED_BYTES_PER_MINUTE * 2)
    ) == (Decimal("0.006"))


def test_whisper_s_reported_seconds_price_the_call() -> None:
    reported = SimpleNamespace(text="x", usage=SimpleNamespace(type="duration", seconds=30))
    assert _reported_cost("whisper-1", reported) == Decimal("0.003")
    tokens = SimpleNamespace(text="x", usage=SimpleNamespace(type="tokens", input_tokens=40))
    assert _reported_cost("gpt-4o-mini-transcribe", tokens) is None
