"""AdminFunction: database migrations on every deploy (a CloudFormation custom resource)
and admin actions invoked directly (`migrate`, `import_salon`); see `salonbot.admin`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot.admin import handle
from salonbot.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, log_stream=context.log_stream_name)
