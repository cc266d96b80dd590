"""WebhookFunction: WhatsApp Cloud API webhook behind an HTTP API.

GET /webhook answers Meta's verification; POST /webhook checks the signature and the
payload, enqueues each message once on the SQS FIFO queue and acks. Lean on purpose
(Meta waits on its cold start): no database, no OpenAI, no X-Ray SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3  # noqa: F401  (the floor of this function's cold start: loaded at init)
from aws_lambda_powertools.logging import correlation_paths

from salonbot.inbound.wiring import default_endpoint
from salonbot.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_endpoint().handle(event)
