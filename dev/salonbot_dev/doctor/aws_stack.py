"""What CloudFormation says a deployed stack is (`read_stack`), and the words the stack
checks share: how an AWS refusal is named (`error_code`), and the fix of a setting the
template owns (`DEPLOY`).

Kept apart so that the groups of checks (`aws.py`, `aws_operations.py`,
`aws_backups.py`) can share it without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEPLOY = "deploy the stack again (`sam deploy`): the template sets it"


@dataclass(frozen=True)
class StackResources:
    """What CloudFormation says the stack is."""

    name: str
    outputs: dict[str, str]
    resources: dict[str, tuple[str, str]]  # logical id -> (type, physical id)

    def physical(self, logical_id: str) -> str | None:
        found = self.resources.get(logical_id)
        return found[1] if found else None

    def of_type(self, kind: str) -> dict[str, str]:
        return {lid: pid for lid, (t, pid) in self.resources.items() if t == kind}


def read_stack(cloudformation: Any, name: str) -> StackResources:
    """The stack's outputs and resources. NotFound when there is no such stack,
    ConfigurationError when AWS cannot be asked (no credentials, no region)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from salonbot.errors import ConfigurationError, NotFound, SalonbotError

    try:
        (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":  # CloudFormation's answer for a missing stack
            raise NotFound(f"no CloudFormation stack {name} in this account and region") from exc
        raise SalonbotError(f"CloudFormation refused to describe {name}: {exc}") from exc
    except BotoCoreError as exc:
        raise ConfigurationError(f"AWS cannot be asked: {exc} (credentials, --region)") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    resources: dict[str, tuple[str, str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
        for r in page["StackResourceSummaries"]:
            if r.get("PhysicalResourceId"):
                resources[r["LogicalResourceId"]] = (r["ResourceType"], r["PhysicalResourceId"])
    return StackResources(name, outputs, resources)


def error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__)
