"""Admin actions on a deployed stack: the CLI invokes the stack's AdminFunction, which runs
inside the VPC where the database is (`--function`, the stack output `AdminFunctionName`)."""

from __future__ import annotations

import json
from typing import Any

from salonbot.errors import InvalidInput, NotFound, SalonbotError

FUNCTION_HELP = (
    "run it through the deployed stack's AdminFunction (stack output AdminFunctionName) "
    "instead of connecting to the database"
)


def invoke_admin(function: str, payload: dict[str, Any], *, client: Any = None) -> dict[str, Any]:
    """The function's answer; InvalidInput when it refused the input, SalonbotError when
    the invocation failed."""
    if client is None:
        import boto3

        client = boto3.client("lambda")
    response = client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps(payload, ensure_ascii=False, default=str).encode(),
    )
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = body.get("errorMessage") if isinstance(body, dict) else body
        raise SalonbotError(f"{function} failed: {message}")
    if not isinstance(body, dict):
        raise SalonbotError(f"{function} answered {body!r}")
    if body.get("ok") is False:
        if body.get("not_found"):
            raise NotFound(str(body.get("error")))
        raise InvalidInput(str(body.get("error")), field=body.get("field"))
    return body
