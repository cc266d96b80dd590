"""The template's functions as the local stack runs them: code location, handler,
timeout, resolved environment, and their HTTP, SQS and schedule event sources."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from salonbot_dev.local.authorizers import RouteAuth, route_auth
from salonbot_dev.local.template import TemplateError

if TYPE_CHECKING:
    from pathlib import Path

    from salonbot_dev.local.template import Resolver

FUNCTION = "AWS::Serverless::Function"


@dataclass(frozen=True)
class HttpRoute:
    method: str  # upper case, or ANY
    path: str  # /webhook, /items/{id}, /files/{proxy+}, or $default
    # Its authorizer, from the template; None for an open route. Not part of its identity.
    auth: RouteAuth | None = field(default=None, compare=False)

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSource:
    queue_arn: str
    batch_size: int = 10
    batching_window_s: int = 0
    report_batch_item_failures: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleSource:
    name: str  # the event's key in the template
    expression: str  # cron(...) or rate(...)
    timezone: str = "UTC"
    input: Any = None  # the event to send instead of the Scheduled Event, if set
    enabled: bool = True


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str  # module.function, e.g. app.lambda_handler
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    routes: list[HttpRoute] = field(default_factory=list)
    sqs_sources: list[SqsSource] = field(default_factory=list)
    schedules: list[ScheduleSource] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        """The code folder's name with dashes: `budget-alert` for functions/budget_alert."""
        return self.code_dir.name.replace("_", "-")


def read_functions(resolver: Resolver, root: Path) -> list[FunctionSpec]:
    """Every function of the template, with values resolved (resources must exist)."""
    specs = []
    for logical_id, resource in resolver.template.resources_of_type(FUNCTION).items():
        if resolver.included(resource):
            specs.append(_function(resolver, root, logical_id))
    return specs


def _function(resolver: Resolver, root: Path, logical_id: str) -> FunctionSpec:
    properties = resolver.template.function_properties(logical_id)
    code_uri = resolver.resolve(properties.get("CodeUri"))
    handler = resolver.resolve(properties.get("Handler"))
    if not isinstance(code_uri, str) or not isinstance(handler, str):
        raise TemplateError(f"{logical_id}: a local CodeUri and a Handler are required")
    variables = resolver.resolve(properties["Environment"]["Variables"])
    spec = FunctionSpec(
        logical_id=logical_id,
        code_dir=(root / code_uri).resolve(),
        handler=handler,
        timeout_s=int(resolver.resolve(properties.get("Timeout", 3))),
        memory_mb=int(resolver.resolve(properties.get("MemorySize", 128))),
        environment={k: _env_value(v) for k, v in variables.items()},
    )
    for name, event in (properties.get("Events") or {}).items():
        kind = event.get("Type")
        props = resolver.resolve(event.get("Properties") or {})
        if kind == "HttpApi":
            path = props.get("Path")
            method = str(props.get("Method", "ANY")).upper()
            spec.routes.append(
                HttpRoute(
                    "ANY" if method in ("*", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                    path or "$default",
                    auth=route_auth(resolver, event.get("Properties") or {}),
                )
            )
        elif kind == "SQS":
            spec.sqs_sources.append(
                SqsSource(
                    queue_arn=str(props["Queue"]),
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    enabled=_truthy(props.get("Enabled", True)),
                )
            )
        elif kind in ("Schedule", "ScheduleV2"):
            spec.schedules.append(_schedule(name, kind, props))
    return spec


def _schedule(name: str, kind: str, props: dict[str, Any]) -> ScheduleSource:
    expression = props.get("Schedule") if kind == "Schedule" else props.get("ScheduleExpression")
    if not isinstance(expression, str):
        raise TemplateError(f"schedule {name} has no expression")
    raw_input = props.get("Input")
    enabled = (
        _truthy(props.get("Enabled", True))
        and str(props.get("State", "ENABLED")).upper() != "DISABLED"
    )
    return ScheduleSource(
        name=name,
        expression=expression,
        timezone=str(props.get("ScheduleExpressionTimezone", "UTC")),
        input=json.loads(raw_input) if isinstance(raw_input, str) else raw_input,
        enabled=enabled,
    )


def _truthy(value: Any) -> bool:
    return str(value).lower() not in ("false", "0", "no")


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
