"""ReminderFunction: reminders before visits (EventBridge schedule, every 5 minutes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from salonbot.config import get_settings
from salonbot.observability import logger, metrics, tracer
from salonbot.outbound.job import run_outbound

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Stop starting new sends this long before the function's timeout: the rest is released
# for the next run.
STOP_BEFORE_TIMEOUT_MS = 15_000


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
# Responses stay out of X-Ray: they may name customers (docs/privacy.md).
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_outbound(
        get_settings(),
        deadline=lambda: context.get_remaining_time_in_millis() < STOP_BEFORE_TIMEOUT_MS,
    )
