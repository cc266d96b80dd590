"""Per-customer throttle: at most `customer_rate_limit` messages per
`customer_rate_window_s` seconds from one customer of one salon reach the assistant, or,
for a salon with AI off or a conversation handed off, notify the staff.

It wraps the router, as the router's `WithLastResort` wraps the guided flow, and the
turn screens messages for staff with it (`screen`). The first message over the limit
gets one polite notice (the catalogue's `throttled`, in the language of the customer's
words, else the conversation's, else the salon's) and no model call or staff
notification; later ones in the same window get no reply at all. The customer's message
is still stored in the conversation either way.

Counting is a fixed window in DynamoDB (table `RATE_LIMIT_TABLE`, partition key `pk`,
TTL attribute `expires_at`): one item per customer and window,
`rate#<salon id>#<phone>#<window start, epoch seconds>`, updated with ONE conditional
UpdateItem that increments the count and records the message's position under the
message's own attribute (`m#<message id>`):

- the condition `attribute_not_exists(m#<id>)` makes the update idempotent per message
  id: a redelivered WhatsApp message is not counted twice and gets the verdict its
  position gave the first time;
- the condition `n <= limit` stops counting once the notice position (limit + 1) is
  taken, so an item holds at most limit + 1 message ids however much a customer sends.

A fixed window lets a customer send up to twice the limit across a window boundary; that
is the price of one write per message (a sliding log would cost a read of the log too).
Items expire a window after their window ends. When DynamoDB fails, the message is let
through (logged and counted as an error): the cost guard still caps the spend."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.assistant.base import TurnResult
from salonbot.assistant.language import detect_language
from salonbot.observability import MetricName, count_error, logger, mask_phone, metrics
from salonbot.texts import phrases
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from salonbot.assistant.base import Assistant, TurnInput
    from salonbot.config import Settings
    from salonbot.db.connection import Connection

Verdict = Literal["allow", "notice", "silent"]
THROTTLED_METRIC = MetricName.CUSTOMER_THROTTLED


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    position: int  # this message's place in its window (0: not counted)
    retry_after_s: int  # until the window ends

    @property
    def allowed(self) -> bool:
        return self.verdict == "allow"


class CustomerThrottle:
    def __init__(
        self,
        table: str,
        *,
        limit: int = 10,
        window_s: int = 60,
        client: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.limit = limit
        self.window_s = window_s
        self._client = client
        self._clock = clock

    def _dynamodb(self) -> DynamoDBClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _verdict(self, position: int) -> Verdict:
        if position <= self.limit:
            return "allow"
        return "notice" if position == self.limit + 1 else "silent"

    def check(self, salon_id: str, phone: str, message_id: str | None = None) -> Decision:
        """Count one message of this customer; a repeated `message_id` is not counted
        again and gets its first verdict. Without an id every call counts."""
        now = self._clock()
        start = int(now // self.window_s) * self.window_s
        retry_after = max(1, math.ceil(start + self.window_s - now))
        key = {"pk": {"S": f"{window_key_prefix(salon_id, phone)}{start}"}}
        names = {"#n": "n", "#m": f"m#{message_id or uuid.uuid4().hex}"}
        try:
            response = self._dynamodb().update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=(
                    "SET #m = if_not_exists(#n, :zero) + :one, "
                    "#n = if_not_exists(#n, :zero) + :one, expires_at = :expires"
                ),
                ConditionExpression=(
                    "attribute_not_exists(#m) AND (attribute_not_exists(#n) OR #n <= :limit)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(self.limit)},
                    ":expires": {"N": str(start + 2 * self.window_s)},
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            position = int(response["Attributes"]["n"]["N"])
        except Exception as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                count_error("throttle")
                logger.warning(
                    "customer throttle unavailable: message let through",
                    extra={"error": type(exc).__name__},
                )
                return Decision("allow", 0, retry_after)
            # Seen before (its recorded position decides), or past the notice: silent.
            item = _item(exc) or self._get(key)
            seen = item.get(names["#m"])
            position = int(seen["N"]) if seen else 0
            if not seen:
                return Decision("silent", position, retry_after)
        return Decision(self._verdict(position), position, retry_after)

    def _get(self, key: dict[str, Any]) -> dict[str, Any]:
        found = self._dynamodb().get_item(TableName=self.table, Key=key, ConsistentRead=True)
        return dict(found.get("Item") or {})


def window_key_prefix(salon_id: str, phone: str) -> str:
    """What every window key of one customer starts with (erasure finds them by it)."""
    return f"rate#{salon_id}#{phone}#"


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def _item(exc: Exception) -> dict[str, Any]:
    response = getattr(exc, "response", None)
    item = response.get("Item") if isinstance(response, dict) else None
    return dict(item) if isinstance(item, dict) else {}


def throttle_from_settings(settings: Settings) -> CustomerThrottle | None:
    """The throttle when `RATE_LIMIT_TABLE` is set; None (off) otherwise."""
    if not settings.rate_limit_table:
        return None
    return CustomerThrottle(
        settings.rate_limit_table,
        limit=settings.customer_rate_limit,
        window_s=settings.customer_rate_window_s,
    )


@dataclass
class ThrottledResult(TurnResult):
    """What a throttled message gets: the notice, or no message at all."""

    decision: Decision = field(default_factory=lambda: Decision("silent", 0, 0))


def screen(throttle: CustomerThrottle | None, turn: TurnInput) -> ThrottledResult | None:
    """Count this message against the customer's limit: None while within it (or with
    no throttle), else what the message gets instead of an engine's answer (the notice,
    or nothing). The turn screens messages for staff (AI off, hand-off) with it too."""
    if throttle is None:
        return None
    decision = throttle.check(str(turn.salon.id), turn.phone, turn.message_id)
    if decision.allowed:
        return None
    metrics.add_metric(name=THROTTLED_METRIC, unit=MetricUnit.Count, value=1)
    logger.info(
        "customer over the message limit: no assistant",
        extra={"verdict": decision.verdict, "phone": mask_phone(turn.phone)},
    )
    # The turn already knows the conversation's language: no query for it.
    language = detect_language(turn.text, turn.default_language)
    notice = phrases(language, turn.salon.language)["throttled"]
    messages: list[Any] = [TextMessage(body=notice)] if decision.verdict == "notice" else []
    return ThrottledResult(
        messages=messages,
        engine="fixed",
        language=language,
        notes=[f"throttled: {decision.verdict}"],
        decision=decision,
    )


class ThrottledAssistant:
    """`Assistant` that counts each message and lets only those within the customer's
    limit reach the wrapped engine (the router)."""

    def __init__(self, inner: Assistant, throttle: CustomerThrottle) -> None:
        self.inner = inner
        self.throttle = throttle

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        throttled = screen(self.throttle, turn)
        if throttled is not None:
            return throttled
        return self.inner.respond(conn, turn)


def with_throttle(assistant: Assistant, throttle: CustomerThrottle | None) -> Assistant:
    return assistant if throttle is None else ThrottledAssistant(assistant, throttle)
