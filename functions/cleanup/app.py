"""CleanupFunction: daily retention of AI data (EventBridge schedule, 02:00 UTC)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from salonbot.config import get_settings
from salonbot.observability import logger, metrics, tracer
from salonbot.retention import run_cleanup

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Stop starting new batches this long before the function's timeout.
STOP_BEFORE_TIMEOUT_MS = 20_000


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
# Responses stay out of X-Ray: they may name customers (docs/privacy.md).
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = run_cleanup(
        get_settings(),
        deadline=lambda: context.get_remaining_time_in_millis() < STOP_BEFORE_TIMEOUT_MS,
    )
    return asdict(result)
