"""BudgetAlertFunction: today's AI spend against thresholds (EventBridge, every 15 min)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths

from salonbot.config import get_settings
from salonbot.cost.alerts import run_budget_alerts
from salonbot.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@metrics.log_metrics
# Responses stay out of X-Ray: they may name customers (docs/privacy.md).
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    alerts = run_budget_alerts(get_settings())
    return {
        "alerts": [
            {
                "scope": a.spend.scope,
                "day": a.spend.day.isoformat(),
                "spend_usd": str(a.spend.spend_usd),
                "thresholds": [t.key for t in a.crossed],
            }
            for a in alerts
        ]
    }
