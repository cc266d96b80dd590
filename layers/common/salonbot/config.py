"""Settings as pydantic models, read from the environment once per container.

Logic receives a `Settings` object; only `get_settings()` reads `os.environ`."""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    database_url: str | None = None
    # Secrets Manager secret (RDS-style JSON) used when DATABASE_URL is not set, in AWS.
    db_secret_arn: str | None = None
    db_proxy_endpoint: str | None = None
    # The database's host when the secret has none (RDS-managed master secrets).
    db_host: str | None = None
    # Set by the stack only to order deploys (functions update after the migrations).
    schema_revision: str | None = None
    db_name: str = "salonbot"
    db_connect_timeout_s: int = Field(default=5, ge=1, le=60)
    db_statement_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
    # The server ends a transaction its client left open this long (a container frozen or
    # killed mid-turn): longer than any function's timeout (the processor's is 60 s).
    db_idle_in_transaction_timeout_ms: int = Field(default=120_000, ge=100, le=3_600_000)
    # Connections go through a transaction pooler: timeouts are set per transaction, never
    # on the session. Unset: true when DB_PROXY_ENDPOINT (RDS Proxy) is.
    db_pooled: bool | None = None

    openai_api_key: str | None = None
    openai_api_key_secret_arn: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_max_tokens: int = Field(default=1000, ge=16, le=16_384)
    openai_temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    # Reasoning models (o-series, gpt-5 family; None: told by the model's name) get
    # `max_completion_tokens` (reasoning included) instead of `max_tokens`, no temperature,
    # and `reasoning_effort` when set.
    openai_reasoning_model: bool | None = None
    openai_reasoning_max_tokens: int = Field(default=4000, ge=16, le=128_000)
    openai_reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    # Price of a model the price table does not know, USD per 1M tokens (both or neither).
    openai_price_input_per_mtok: Decimal | None = Field(default=None, ge=0, le=10_000)
    openai_price_output_per_mtok: Decimal | None = Field(default=None, ge=0, le=10_000)
    # After 429 insufficient_quota or 401 the model is not called for this long (per
    # container): customers get the guided flow at once. 0: no breaker.
    openai_breaker_minutes: float = Field(default=5.0, ge=0, le=24 * 60)
    openai_timeout_s: float = Field(default=20.0, gt=0, le=300)
    openai_max_retries: int = Field(default=2, ge=0, le=10)
    # First retry waits this long, doubling after; a 429's Retry-After wins (capped).
    openai_retry_base_s: float = Field(default=0.5, ge=0, le=30)
    # Model calls per customer message (tool round trips included); the last one may
    # not call tools, so the turn always ends in a reply.
    assistant_max_model_calls: int = Field(default=4, ge=1, le=10)
    # No new model call or retry starts once a turn has run this long.
    assistant_deadline_s: float = Field(default=45.0, gt=0, le=900)
    # History sent to the model: the last `history_messages`, trimmed to this estimate.
    history_token_budget: int = Field(default=1500, ge=100, le=100_000)
    # The guided flow forgets a half-made booking after this long without an answer.
    guided_state_ttl_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)

    whatsapp_app_secret: str | None = None
    whatsapp_app_secret_arn: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_verify_token_arn: str | None = None
    whatsapp_api_base_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_access_token: str | None = None
    whatsapp_access_token_secret_arn: str | None = None
    whatsapp_timeout_s: float = Field(default=10.0, gt=0, le=60)
    whatsapp_max_retries: int = Field(default=3, ge=0, le=10)
    whatsapp_retry_base_s: float = Field(default=0.5, ge=0, le=30)
    # Read receipts with the typing indicator when a turn starts: best effort, sent in
    # the background, given up after this long.
    whatsapp_read_receipts: bool = True
    whatsapp_read_receipt_timeout_s: float = Field(default=2.0, gt=0, le=10)
    # Voice notes: transcribed by this OpenAI audio model (priced per minute in
    # `salonbot.cost.audio_pricing`); false turns transcription off.
    transcription_model: str = "gpt-4o-mini-transcribe"
    transcription_enabled: bool = True
    # Images: true when OPENAI_MODEL sees images; a customer's photo is then downloaded and
    # shown to the model (`salonbot.assistant.vision`). False: photos go to the staff.
    openai_vision: bool = False
    # Bursts: a customer's message that is their latest waits this long for a next one
    # before it is answered (a later one already there is always answered with it).
    burst_wait_ms: int = Field(default=0, ge=0, le=10_000)

    aws_endpoint_url: str | None = None
    queue_url: str | None = None
    # A failed queue message returns after base * 2^(receives - 1) seconds, capped at
    # max, instead of the queue's visibility timeout (`salonbot.processing.retry`).
    queue_retry_base_s: int = Field(default=10, ge=0, le=43_200)
    queue_retry_max_s: int = Field(default=360, ge=0, le=43_200)
    idempotency_table: str | None = None
    cost_table: str | None = None
    # Per-customer throttle (salon + phone): at most `customer_rate_limit` messages per
    # `customer_rate_window_s` reach the assistant. Off when RATE_LIMIT_TABLE is unset.
    rate_limit_table: str | None = None
    customer_rate_limit: int = Field(default=10, ge=1, le=10_000)
    customer_rate_window_s: int = Field(default=60, ge=1, le=86_400)
    alert_topic_arn: str | None = None
    # Customer messages for the salon's staff (AI off, hand-off); the alert topic if unset.
    staff_topic_arn: str | None = None
    # At most one staff notification per conversation this often (0: one per message),
    # counting the messages since the previous one.
    staff_notify_interval_minutes: int = Field(default=10, ge=0, le=24 * 60)
    # A conversation handed off to a human goes back to the assistant after this long.
    handoff_minutes: int = Field(default=24 * 60, ge=1, le=30 * 24 * 60)
    # While handed off, a customer's message gets a short acknowledgement at most this
    # often, and none while the staff replied within this time (the first one after the
    # hand-off began is always told the staff will answer).
    handoff_ack_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The staff console (StaffFunction): the Cognito user pool and its console client; the
    # hosted UI's address (AWS) or none (the console's own sign-in form, locally).
    staff_user_pool_id: str | None = None
    staff_client_id: str | None = None
    staff_auth_domain: str | None = None
    # A message staff send from the WhatsApp Business app keeps the bot quiet this long.
    staff_pause_hours: int = Field(default=12, ge=1, le=168)
    # The console's address: staff notifications link to the conversation there.
    console_url: str | None = None

    history_messages: int = Field(default=10, ge=1, le=100)
    max_message_age_s: int = Field(default=86_400, ge=60)
    # Webhook: larger POST bodies get 413; seen message ids are kept longer than Meta retries.
    webhook_max_body_bytes: int = Field(default=3 * 1024 * 1024, ge=1024, le=6 * 1024 * 1024)
    webhook_dedupe_ttl_s: int = Field(default=8 * 86_400, ge=86_400)
    global_daily_budget_usd: float = Field(default=50.0, ge=0)
    # Cost guard: the global daily counter is split over this many DynamoDB items.
    cost_guard_shards: int = Field(default=10, ge=1, le=100)
    # Budget alerts: fractions of a daily budget, and an absolute daily spend in USD.
    budget_alert_thresholds: str = "0.8,1.0"
    cost_alert_usd: float = Field(default=50.0, ge=0)
    slack_webhook_url: str | None = None
    slack_webhook_secret_arn: str | None = None
    # Retention of AI data (CleanupFunction).
    conversation_retention_days: int = Field(default=30, ge=1)
    message_retention_days: int = Field(default=90, ge=1)
    # A client with no booking made or due and no message for this long is anonymised.
    client_retention_days: int = Field(default=730, ge=30)
    cleanup_batch_size: int = Field(default=2000, ge=1, le=50_000)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _prices_come_in_pairs(self) -> Settings:
        given = (self.openai_price_input_per_mtok, self.openai_price_output_per_mtok)
        if given.count(None) == 1:
            raise ValueError(
                "OPENAI_PRICE_INPUT_PER_MTOK and OPENAI_PRICE_OUTPUT_PER_MTOK are set together"
            )
        return self

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls.model_validate({k.lower(): v for k, v in env.items() if v != ""})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
