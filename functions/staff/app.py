"""StaffFunction: the salon's side on the HTTP API: the staff API (`/api/v1/staff/...`,
behind the Cognito authorizer; the routes check the user's salons) and the console's
pages (`/console/...`). The routes live in `salonbot.staff.routes` and
`salonbot.staff.console`; this handler only adds logging context, metrics and tracing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from salonbot.observability import MetricName, logger, metrics, tracer
from salonbot.staff.app import app

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
# Responses stay out of X-Ray: they name customers (docs/privacy.md).
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name=MetricName.API_REQUESTS, unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
