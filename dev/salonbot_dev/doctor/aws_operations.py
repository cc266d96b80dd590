"""The stack's operations checks of `salonbot doctor --stack`: cost monitoring, alarms
and who receives them, logging, throttling, and failed-message handling.

Each check reads the stack's resources through a `StackDoctor` (its boto3 clients and
function settings) and says what to fix; `StackDoctor` calls them as its checklist
methods. Kept apart from `aws.py`, which reads the stack and checks what serves
customers (settings, health, the test message, the webhook).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from salonbot_dev.doctor import Outcome, fail, ok, warn
from salonbot_dev.doctor.aws_stack import DEPLOY, error_code

if TYPE_CHECKING:
    from salonbot_dev.doctor.aws import StackDoctor


def cost_monitoring(doctor: StackDoctor) -> list[Outcome]:
    found: list[Outcome] = []
    rules = {
        lid: pid
        for lid, pid in doctor.stack.of_type("AWS::Events::Rule").items()
        if lid.startswith("BudgetAlertFunction")
    }
    if not rules:
        found.append(fail("the budget alert schedule is not in the stack", DEPLOY))
    for logical, name in rules.items():
        try:
            state = doctor.aws("events").describe_rule(Name=name)["State"]
        except Exception as exc:
            found.append(fail(f"{logical}: {name} cannot be read ({error_code(exc)})", DEPLOY))
            continue
        if state != "ENABLED":
            found.append(
                fail(
                    f"the budget alert schedule {name} is {state}",
                    f"aws events enable-rule --name {name}",
                )
            )
    if "DailyCostAlarm" not in doctor.stack.resources:
        found.append(fail("the DailyCostAlarm is not in the stack", DEPLOY))
    budget = doctor.environment("ProcessorFunction").get("GLOBAL_DAILY_BUDGET_USD")
    if not found:
        found.append(
            ok(
                f"budget alerts run on schedule, the daily cost alarm exists, spend is "
                f"capped at ${budget or '?'} a day over all salons"
            )
        )
    return found


def alarms(doctor: StackDoctor) -> list[Outcome]:
    names = sorted(doctor.stack.of_type("AWS::CloudWatch::Alarm").values())
    if not names:
        return [fail("the stack has no CloudWatch alarms", DEPLOY)]
    cloudwatch = doctor.aws("cloudwatch")
    seen: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), 100):
        answer = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
        seen |= {a["AlarmName"]: a for a in answer.get("MetricAlarms", [])}
        seen |= {a["AlarmName"]: a for a in answer.get("CompositeAlarms", [])}
    found: list[Outcome] = []
    missing = [n for n in names if n not in seen]
    if missing:
        found.append(fail(f"alarms missing: {', '.join(missing)}", doctor.fix("alarm", missing[0])))
    silent = [
        n for n, a in seen.items() if not a.get("ActionsEnabled", True) or not a.get("AlarmActions")
    ]
    if silent:
        found.append(
            fail(
                f"alarms with no action: {', '.join(sorted(silent))}",
                f"aws cloudwatch enable-alarm-actions --alarm-names {' '.join(sorted(silent))}"
                " (the template gives each the alert topic)",
            )
        )
    found.append(_alert_subscribers(doctor))
    if not missing and not silent:
        found.insert(0, ok(f"{len(names)} alarms, each notifying the alert topic"))
    return found


def _alert_subscribers(doctor: StackDoctor) -> Outcome:
    topic = doctor.stack.physical("AlertTopic") or doctor.stack.outputs.get("AlertTopicArn")
    if not topic:
        return fail("the stack has no alert topic", DEPLOY)
    try:
        subscriptions = doctor.aws("sns").list_subscriptions_by_topic(TopicArn=topic)[
            "Subscriptions"
        ]
    except Exception as exc:
        return fail(f"the alert topic cannot be read ({error_code(exc)})", DEPLOY)
    confirmed = [s for s in subscriptions if s["SubscriptionArn"].startswith("arn:")]
    pending = len(subscriptions) - len(confirmed)
    if confirmed:
        who = ", ".join(f"{s['Protocol']}:{s['Endpoint']}" for s in confirmed)
        return ok(f"the alert topic reaches {who}")
    if pending:
        return fail(
            f"the alert topic's {pending} subscription(s) are not confirmed: nobody gets "
            "the alarms",
            "confirm the subscription e-mail AWS sent to the AlertEmail address",
        )
    return fail(
        "nobody is subscribed to the alert topic: the alarms reach no one",
        "set the AlertEmail parameter and deploy, then confirm the e-mail; or "
        f"aws sns subscribe --topic-arn {topic} --protocol email "
        "--notification-endpoint ADDRESS",
    )


def logging(doctor: StackDoctor) -> list[Outcome]:
    groups = sorted(doctor.stack.of_type("AWS::Logs::LogGroup").values())
    logs = doctor.aws("logs")
    found: list[Outcome] = []
    retention: dict[str, int | None] = {}
    for name in groups:
        answer = logs.describe_log_groups(logGroupNamePrefix=name)
        match = next((g for g in answer.get("logGroups", []) if g["logGroupName"] == name), None)
        if match is None:
            found.append(fail(f"the log group {name} does not exist", doctor.fix("log", name)))
            continue
        retention[name] = match.get("retentionInDays")
        if not retention[name]:
            found.append(
                fail(
                    f"the log group {name} keeps logs forever (no retention)",
                    f"aws logs put-retention-policy --log-group-name {name} "
                    "--retention-in-days 30 (the template sets LogRetentionDays: redeploy)",
                )
            )
    for logical, config in doctor.configurations.items():
        group = (
            ((config.get("LoggingConfig") or {}).get("LogGroup")) if "error" not in config else None
        )
        if group is not None and group not in groups:
            found.append(
                fail(f"{logical} logs to {group}, a group the stack does not manage", DEPLOY)
            )
    if not groups:
        found.append(fail("the stack has no log groups", DEPLOY))
    if not found:
        days = sorted({d for d in retention.values() if d})
        found.append(
            ok(
                f"{len(groups)} log groups, every function logging to its own, kept "
                f"{', '.join(map(str, days))} days"
            )
        )
    return found


def throttling(doctor: StackDoctor) -> list[Outcome]:
    found: list[Outcome] = []
    api_id = doctor.stack.physical("HttpApi")
    if not api_id:
        found.append(fail("the stack has no HTTP API", DEPLOY))
    else:
        try:
            stage = doctor.aws("apigatewayv2").get_stage(ApiId=api_id, StageName="$default")
        except Exception as exc:
            stage = {}
            found.append(
                fail(f"the HTTP API's $default stage cannot be read ({error_code(exc)})", DEPLOY)
            )
        default = stage.get("DefaultRouteSettings") or {}
        if stage and not (
            default.get("ThrottlingRateLimit") and default.get("ThrottlingBurstLimit")
        ):
            found.append(
                fail(
                    "the HTTP API has no default throttling",
                    "set ApiThrottleRatePerSecond and ApiThrottleBurst and deploy",
                )
            )
        elif stage:
            webhook = (stage.get("RouteSettings") or {}).get("POST /webhook") or {}
            found.append(
                ok(
                    f"HTTP API throttled at {default['ThrottlingRateLimit']}/s (burst "
                    f"{default['ThrottlingBurstLimit']}); POST /webhook at "
                    f"{webhook.get('ThrottlingRateLimit', 'the default')}/s"
                )
            )
    env = doctor.environment("ProcessorFunction")
    if env.get("RATE_LIMIT_TABLE"):
        found.append(
            ok(
                f"per-customer limit: {env.get('CUSTOMER_RATE_LIMIT', '10')} messages per "
                f"{env.get('CUSTOMER_RATE_WINDOW_S', '60')} s"
            )
        )
    else:
        found.append(fail("the processor has no per-customer throttle (RATE_LIMIT_TABLE)", DEPLOY))
    mappings = doctor.stack.of_type("AWS::Lambda::EventSourceMapping")
    for logical, uuid_ in mappings.items():
        try:
            mapping = doctor.aws("lambda").get_event_source_mapping(UUID=uuid_)
        except Exception as exc:
            found.append(fail(f"{logical} cannot be read ({error_code(exc)})", DEPLOY))
            continue
        limit = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if limit:
            found.append(ok(f"the queue drives at most {limit} processor instances"))
        else:
            found.append(
                fail(
                    f"{logical}: the queue may drive unbounded processor instances",
                    "set ProcessorMaxConcurrency and deploy (it bounds PostgreSQL connections)",
                )
            )
    return found


def error_handling(doctor: StackDoctor) -> list[Outcome]:
    queue = doctor.stack.physical("InboundQueue")
    dlq = doctor.stack.physical("DeadLetterQueue")
    if not queue or not dlq:
        return [fail("the stack lacks its inbound or dead-letter queue", DEPLOY)]
    sqs = doctor.aws("sqs")
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        depth = int(
            sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
    except Exception as exc:
        return [fail(f"the queues cannot be read ({error_code(exc)})", doctor.fix("queue", queue))]
    policy = json.loads(attributes.get("RedrivePolicy") or "{}")
    if not policy.get("deadLetterTargetArn"):
        return [fail("the inbound queue has no redrive policy to the dead-letter queue", DEPLOY)]
    if depth:
        return [
            warn(
                f"{depth} message(s) in the dead-letter queue: they failed "
                f"{policy.get('maxReceiveCount')} times",
                "read the processor's logs for them; once fixed, redrive the DLQ from the "
                "SQS console (DeadLetterAlarm stays in ALARM until then)",
            )
        ]
    return [
        ok(
            f"failed messages go to the dead-letter queue after "
            f"{policy.get('maxReceiveCount')} receives, and it is empty; failure handling "
            "is tested by `make test` (tests/integration/faults)"
        )
    ]
