"""ApiFunction: the AI HTTP API (API Gateway HTTP API, payload format 2.0).

`GET /api/v1/ai/health` (public), `POST /api/v1/ai/process-message` and
`GET /api/v1/ai/stats` (the JWT authorizer and each route's scope in the template; the
routes check the token's salon and scope again). The routes live in
`salonbot.api.routes`; this handler only adds logging context, metrics and tracing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from salonbot.api.routes import app
from salonbot.observability import MetricName, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@metrics.log_metrics
# Responses stay out of X-Ray: they may name customers (docs/privacy.md).
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Every invocation publishes at least this, so health checks log no empty-metrics warning.
    metrics.add_metric(name=MetricName.API_REQUESTS, unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
