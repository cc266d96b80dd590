"""The webhook endpoint as deployed: settings, secrets and AWS clients, once per
container. AWS clients are created on the first signed POST, not at import; the settings
are `WebhookSettings` (no pydantic on this function's cold start)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from salonbot.errors import ConfigurationError
from salonbot.inbound.dedupe import DynamoSeenMessages
from salonbot.inbound.enqueue import SqsEventQueue
from salonbot.inbound.http import WebhookEndpoint, WebhookSecrets
from salonbot.inbound.intake import WebhookIntake
from salonbot.inbound.settings import WebhookSettings
from salonbot.secrets import resolve_secret

if TYPE_CHECKING:
    from botocore.config import Config


def _client_config() -> Config:
    from botocore.config import Config

    # Meta waits on this function: fail fast into a 5xx (and Meta's retry) rather than
    # hang until the function times out. Throttling is retried with backoff.
    return Config(
        connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 3}
    )


def build_intake(settings: WebhookSettings) -> WebhookIntake:
    if not settings.queue_url:
        raise ConfigurationError("QUEUE_URL is not set")
    if not settings.idempotency_table:
        raise ConfigurationError("IDEMPOTENCY_TABLE is not set")
    import boto3

    config = _client_config()
    return WebhookIntake(
        seen=DynamoSeenMessages(
            settings.idempotency_table,
            client=boto3.client("dynamodb", config=config),
            ttl_s=settings.webhook_dedupe_ttl_s,
        ),
        queue=SqsEventQueue(settings.queue_url, client=boto3.client("sqs", config=config)),
        max_message_age_s=settings.max_message_age_s,
    )


def webhook_secrets(settings: WebhookSettings) -> WebhookSecrets:
    """Resolved per request: Secrets Manager values are cached (and so rotate)."""
    return WebhookSecrets(
        app_secret=resolve_secret(settings.whatsapp_app_secret, settings.whatsapp_app_secret_arn),
        verify_token=resolve_secret(
            settings.whatsapp_verify_token, settings.whatsapp_verify_token_arn
        ),
    )


@lru_cache(maxsize=1)
def default_intake() -> WebhookIntake:
    return build_intake(WebhookSettings.from_env())


@lru_cache(maxsize=1)
def default_endpoint() -> WebhookEndpoint:
    settings = WebhookSettings.from_env()
    return WebhookEndpoint(
        intake=default_intake,
        secrets=lambda: webhook_secrets(settings),
        max_body_bytes=settings.webhook_max_body_bytes,
    )
