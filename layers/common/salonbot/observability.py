"""The one place that creates the Powertools Logger, Tracer and Metrics.

The Tracer is created on first use of `tracer`: creating it imports aws_xray_sdk (about
0.2 s, more than boto3 itself), which the webhook, whose cold start Meta waits on, never
needs. `from salonbot.observability import tracer` works as before."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

SERVICE = "salonbot"
NAMESPACE = "Salonbot"


# EMF metric names (namespace Salonbot, dimension service=salonbot). The dashboard and
# alarms in template.yaml refer to these names: rename both together.
class MetricName:
    MESSAGES_RECEIVED = "MessagesReceived"
    REPLIES_SENT = "RepliesSent"
    MODEL_CALLS = "ModelCalls"
    MODEL_FAILURES = "ModelFailures"
    # 429 insufficient_quota and 401 answers: the breaker opens, the alarms watch these.
    MODEL_QUOTA_EXHAUSTED = "ModelQuotaExhausted"
    MODEL_AUTH_FAILURES = "ModelAuthFailures"
    # Turns the guided flow answered without a call because the model's breaker is open.
    MODEL_BREAKER_OPEN = "ModelBreakerOpen"
    # Answers the customer got a polite catalogue reply for: a refusal or content filter.
    MODEL_REFUSALS = "ModelRefusals"
    # Completions cut at their token limit (finish_reason "length"): never sent.
    MODEL_REPLIES_CUT = "ModelRepliesCut"
    # Tool calls of a type salonbot does not offer, or naming no tool it has.
    TOOL_CALLS_REFUSED = "ToolCallsRefused"
    TOKENS_USED = "TokensUsed"
    COST_USD = "CostUsd"
    RESPONSE_TIME_MS = "ResponseTimeMs"
    CONVERSATIONS_STARTED = "ConversationsStarted"
    CONVERSATIONS_CONVERTED = "ConversationsConverted"  # first booking of a conversation
    BOOKINGS_CREATED = "BookingsCreated"
    FALLBACKS = "Fallbacks"
    ZERO_TOKEN_TURNS = "ZeroTokenTurns"  # answered by the guided flow or FAQ, no model
    BUDGET_REFUSALS = "BudgetRefusals"
    # Turns served while the AI kill switch is off for the salon (`salonbot ai off`).
    SWITCHED_OFF_TURNS = "SwitchedOffTurns"
    ERRORS = "Errors"  # total; the kind goes in ERRORS_BY_KIND with dimension `kind`
    ERRORS_BY_KIND = "ErrorsByKind"
    BUDGET_ALERTS_SENT = "BudgetAlertsSent"
    SPEND_TODAY_USD = "SpendTodayUsd"  # all salons, UTC day so far (BudgetAlertFunction)
    CONVERSATIONS_DELETED = "ConversationsDeleted"
    MESSAGES_DELETED = "MessagesDeleted"
    LEDGER_ROWS_DELETED = "LedgerRowsDeleted"  # inbound_messages
    STATUSES_DELETED = "StatusesDeleted"  # message_statuses
    CLIENTS_ANONYMISED = "ClientsAnonymised"  # idle past CLIENT_RETENTION_DAYS
    CUSTOMERS_FORGOTTEN = "CustomersForgotten"  # erasure requests carried out
    # WebhookFunction: events put on the queue, repeats of an accepted message id,
    # customer messages too old to answer (queued to be kept for staff), requests
    # refused with a 4xx.
    WEBHOOK_EVENTS_ENQUEUED = "WebhookEventsEnqueued"
    WEBHOOK_DUPLICATES = "WebhookDuplicates"
    STALE_MESSAGES = "StaleMessages"
    WEBHOOK_REJECTED = "WebhookRejected"
    CUSTOMER_THROTTLED = "CustomerThrottled"  # over the per-customer message limit
    API_REQUESTS = "ApiRequests"  # calls of the AI HTTP API (ApiFunction)
    # Customer messages no engine answers, kept for the staff (`kept_messages`): too
    # old to answer, or for a WhatsApp number no salon has.
    MESSAGES_KEPT = "MessagesKeptForStaff"
    # Customer events that are not requests, stored without a reply.
    REACTIONS = "ReactionsReceived"  # a reaction to a message, or its removal
    MESSAGES_EDITED = "MessagesEdited"
    MESSAGES_REVOKED = "MessagesRevoked"  # deleted by the customer
    NUMBERS_CHANGED = "CustomerNumbersChanged"  # system: user_changed_number
    IDENTITY_CHANGES = "CustomerIdentityChanges"  # system: customer_identity_changed
    # Messages of a burst stored without a reply: the burst's last turn answers them.
    BURST_MESSAGES_HELD = "BurstMessagesHeld"
    TRANSCRIPTIONS = "Transcriptions"  # voice notes sent to the audio API
    PHOTOS_FOR_STAFF = "PhotosForStaff"  # photos the customer asks about, handed to staff
    PHOTOS_SEEN = "PhotosSeenByModel"  # photos a vision model answered


class EmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, doing what its settings say.

    - `POWERTOOLS_METRICS_DISABLED=true` prints nothing. Powertools 3 still prints the
      cold-start metric and, once a metric holds 100 values, the whole set (which it never
      clears while disabled): EMF lines in `make dev` and `make bench` output.
    - A flush with nothing to publish is quiet: a request that counts nothing (a health
      check, Meta's verification GET) is normal, and Powertools' warning about it is noise
      in every log. `raise_on_empty_metrics=True` still raises."""

    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        if is_metrics_disabled():
            return
        super().add_metric(name=name, unit=unit, value=value, resolution=resolution)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if is_metrics_disabled():
            self.clear_metrics()
            return
        if not self.metric_set and not raise_on_empty_metrics:
            return
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)

    def add_cold_start_metric(self, context: Any) -> None:
        if not is_metrics_disabled():
            super().add_cold_start_metric(context)


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# The same shared metric set, dimensions and metadata, through the provider above.
metrics.provider = EmfProvider(
    metric_set=metrics.metric_set,
    dimension_set=metrics.dimension_set,
    metadata_set=metrics.metadata_set,
    default_dimensions=metrics.default_dimensions,
    namespace=NAMESPACE,
    service=SERVICE,
)
_tracer: Tracer | None = None


def get_tracer() -> Tracer:
    global _tracer
    if _tracer is None:
        _tracer = Tracer(service=SERVICE)
    return _tracer


def __getattr__(name: str) -> Tracer:
    """`tracer`, created on first use (PEP 562)."""
    if name == "tracer":
        return get_tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# A masked phone keeps at most this many trailing digits: enough to tell two customers
# apart in one salon's logs, far too few to call anyone (the country and operator codes
# and the rest of the number go).
MASK_KEEPS_DIGITS = 4


def mask_phone(phone: str | None) -> str:
    """+79001234567 -> ***4567: the last four digits at most, and none of a short number."""
    if not phone:
        return ""
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) < 2 * MASK_KEEPS_DIGITS:
        return "***"
    return f"***{digits[-MASK_KEEPS_DIGITS:]}"


def mask_conversation_id(conversation_id: str | None) -> str:
    """conv_<salon>_79001234567 -> conv_<salon>_***4567: the id names the customer's
    phone, so logs carry it masked like any phone number."""
    if not conversation_id:
        return ""
    head, sep, phone = conversation_id.rpartition("_")
    if not sep or not phone.isdigit() or len(phone) < 7:
        return conversation_id
    return f"{head}_{mask_phone(phone)}"


def mask_secret(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:3]}***" if len(value) > 8 else "***"


def count_error(kind: str) -> None:
    """One error: in the total the error-rate alarm uses, and by kind for the dashboard."""
    from aws_lambda_powertools.metrics import single_metric

    metrics.add_metric(name=MetricName.ERRORS, unit=MetricUnit.Count, value=1)
    if is_metrics_disabled():
        return  # single_metric prints its line whatever the setting
    with single_metric(
        name=MetricName.ERRORS_BY_KIND,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="kind", value=kind)


def correlation_ids(
    *, message_id: str | None = None, conversation_id: str | None = None
) -> dict[str, str]:
    """Keys to `logger.append_keys` so every line of one message can be found together."""
    keys: dict[str, str] = {}
    if message_id:
        keys["message_id"] = message_id
    if conversation_id:
        keys["conversation_id"] = mask_conversation_id(conversation_id)
    return keys
