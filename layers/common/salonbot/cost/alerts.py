"""Budget alerts: today's AI spend per salon and overall against thresholds, one alert per
threshold per day however often the schedule runs.

Spend is what `ai_messages.cost` records (real, reconciled costs), over the salon's own
calendar day (its timezone) and, for the global figure, the UTC day the global cap uses.
A threshold is a fraction of the budget (0.8, 1.0) or the absolute alert amount in USD.
Several thresholds crossed between two runs give one message naming them all.

Deduplication is a conditional put in DynamoDB (`alert#<scope>#<day>#<threshold>`): the
claim is made before publishing and withdrawn if publishing fails, so a failed run is
retried by the next one and a successful one is never repeated."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from salonbot.observability import MetricName, logger, mask_phone, metrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient

    from salonbot.config import Settings
    from salonbot.db.connection import Connection

ALERT_TTL = dt.timedelta(days=3)
TOP_DRIVERS = 3


@dataclass(frozen=True)
class Threshold:
    key: str  # stable id in the dedupe record: "pct80", "pct100", "usd50"
    label: str  # "80% of budget", "$50.00"
    limit_usd: Decimal


@dataclass(frozen=True)
class CostDriver:
    label: str  # masked conversation or salon name
    cost_usd: Decimal
    tokens: int
    messages: int


@dataclass
class Spend:
    scope: str  # "salon:<id>" or "global"
    name: str
    day: dt.date
    timezone: str
    spend_usd: Decimal
    budget_usd: Decimal | None
    drivers: list[CostDriver] = field(default_factory=list)


@dataclass(frozen=True)
class Alert:
    spend: Spend
    crossed: tuple[Threshold, ...]

    @property
    def subject(self) -> str:
        top = self.crossed[-1]
        who = "AI costs" if self.spend.scope == "global" else self.spend.name
        return f"salonbot: {who} reached {top.label} on {self.spend.day.isoformat()}"[:100]

    @property
    def text(self) -> str:
        s = self.spend
        lines = [f"⚠️ {self.subject}"]
        if s.scope == "global":
            lines.append(f"Scope: all salons (day in {s.timezone})")
        else:
            lines.append(f"Salon: {s.name} ({s.scope.removeprefix('salon:')})")
            lines.append(f"Day: {s.day.isoformat()} ({s.timezone})")
        spend = f"Spend: ${s.spend_usd:.4f}"
        if s.budget_usd is not None:
            spend += f" of ${s.budget_usd:.2f} budget"
            if s.budget_usd > 0:
                spend += f" ({s.spend_usd / s.budget_usd:.0%})"
        lines.append(spend)
        lines.append("Thresholds crossed: " + ", ".join(t.label for t in self.crossed))
        if s.drivers:
            lines.append("Top cost drivers:")
            for i, d in enumerate(s.drivers, 1):
                lines.append(
                    f"  {i}. {d.label}: ${d.cost_usd:.4f}, {d.tokens:,} tokens, "
                    f"{d.messages} messages"
                )
        return "\n".join(lines)


@dataclass(frozen=True)
class AlertPolicy:
    fractions: tuple[Decimal, ...] = (Decimal("0.8"), Decimal("1.0"))
    absolute_usd: Decimal | None = Decimal(50)
    global_budget_usd: Decimal | None = Decimal(50)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertPolicy:
        fractions = tuple(
            sorted(Decimal(p.strip()) for p in settings.budget_alert_thresholds.split(",") if p)
        )
        return cls(
            fractions=fractions,
            absolute_usd=Decimal(str(settings.cost_alert_usd)) if settings.cost_alert_usd else None,
            global_budget_usd=Decimal(str(settings.global_daily_budget_usd)),
        )

    def thresholds(self, budget: Decimal | None) -> list[Threshold]:
        found: list[Threshold] = []
        if budget is not None and budget > 0:
            found += [
                Threshold(f"pct{int(f * 100)}", f"{f:.0%} of budget", budget * f)
                for f in self.fractions
            ]
        if self.absolute_usd is not None:
            found.append(
                Threshold(
                    f"usd{self.absolute_usd.normalize():f}",
                    f"${self.absolute_usd:.2f}",
                    self.absolute_usd,
                )
            )
        return sorted(found, key=lambda t: t.limit_usd)

    def crossed(self, spend: Spend) -> list[Threshold]:
        if spend.spend_usd <= 0:
            return []
        return [t for t in self.thresholds(spend.budget_usd) if spend.spend_usd >= t.limit_usd]


# -- reading spend -------------------------------------------------------------------------

_SALON_SPEND = """
WITH days AS (
    SELECT s.id, s.name, s.timezone, s.daily_budget_usd,
           (%(now)s AT TIME ZONE s.timezone)::date AS day,
           date_trunc('day', %(now)s AT TIME ZONE s.timezone) AT TIME ZONE s.timezone AS since
    FROM salons s
)
SELECT d.id, d.name, d.timezone, d.daily_budget_usd, d.day, d.since,
       coalesce(sum(m.cost), 0) AS spend
FROM days d
JOIN ai_messages m ON m.salon_id = d.id AND m.created_at >= d.since AND m.created_at <= %(now)s
GROUP BY d.id, d.name, d.timezone, d.daily_budget_usd, d.day, d.since
HAVING sum(m.cost) > 0
"""

_SALON_DRIVERS = """
SELECT m.conversation_id, c.phone_number, sum(m.cost) AS cost,
       sum(m.tokens_used) AS tokens, count(*) AS messages
FROM ai_messages m JOIN ai_conversations c ON c.id = m.conversation_id
WHERE m.salon_id = %(salon)s AND m.created_at >= %(since)s AND m.created_at <= %(now)s
GROUP BY m.conversation_id, c.phone_number
HAVING sum(m.cost) > 0
ORDER BY cost DESC
LIMIT %(limit)s
"""

_GLOBAL_SPEND = """
SELECT s.name, coalesce(sum(m.cost), 0) AS cost, coalesce(sum(m.tokens_used), 0) AS tokens,
       count(*) AS messages
FROM ai_messages m JOIN salons s ON s.id = m.salon_id
WHERE m.created_at >= %(since)s AND m.created_at <= %(now)s
GROUP BY s.id, s.name
ORDER BY cost DESC
"""


def salon_spend(conn: Connection, now: dt.datetime) -> list[Spend]:
    """Each salon with spend today (its own day), with its top conversations by cost."""
    found = []
    for row in conn.execute(_SALON_SPEND, {"now": now}).fetchall():
        drivers = [
            CostDriver(
                label=mask_phone(d["phone_number"]),  # ids embed the phone in clear
                cost_usd=Decimal(d["cost"]),
                tokens=int(d["tokens"]),
                messages=int(d["messages"]),
            )
            for d in conn.execute(
                _SALON_DRIVERS,
                {"salon": row["id"], "since": row["since"], "now": now, "limit": TOP_DRIVERS},
            )
        ]
        found.append(
            Spend(
                scope=f"salon:{row['id']}",
                name=row["name"],
                day=row["day"],
                timezone=row["timezone"],
                spend_usd=Decimal(row["spend"]),
                budget_usd=Decimal(row["daily_budget_usd"]),
                drivers=drivers,
            )
        )
    return found


def global_spend(conn: Connection, now: dt.datetime, budget: Decimal | None) -> Spend:
    """All salons over the UTC day, with the top salons by cost."""
    day = now.astimezone(dt.UTC).date()
    since = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    rows = conn.execute(_GLOBAL_SPEND, {"since": since, "now": now}).fetchall()
    return Spend(
        scope="global",
        name="all salons",
        day=day,
        timezone="UTC",
        spend_usd=sum((Decimal(r["cost"]) for r in rows), Decimal(0)),
        budget_usd=budget,
        drivers=[
            CostDriver(r["name"], Decimal(r["cost"]), int(r["tokens"]), int(r["messages"]))
            for r in rows[:TOP_DRIVERS]
        ],
    )


# -- deduplication and delivery ------------------------------------------------------------


class AlertLedger(Protocol):
    def claim(self, scope: str, day: dt.date, threshold: str) -> bool:
        """True if this threshold had not been alerted for this scope and day."""
        ...

    def unclaim(self, scope: str, day: dt.date, threshold: str) -> None: ...


class DynamoAlertLedger:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._client = client
        self._table = table_name

    @staticmethod
    def _key(scope: str, day: dt.date, threshold: str) -> dict[str, Any]:
        return {"pk": {"S": f"alert#{scope}#{day.isoformat()}#{threshold}"}}

    def claim(self, scope: str, day: dt.date, threshold: str) -> bool:
        now = dt.datetime.now(dt.UTC)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(scope, day, threshold),
                    "claimed_at": {"S": now.isoformat()},
                    "expires_at": {"N": str(int((now + ALERT_TTL).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def unclaim(self, scope: str, day: dt.date, threshold: str) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key(scope, day, threshold))


class AlertNotifier:
    """SNS first (it pages people); Slack, when configured, gets the same text."""

    def __init__(
        self,
        topic_arn: str | None,
        *,
        sns: SNSClient | None = None,
        slack_webhook_url: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        if topic_arn and sns is None:
            import boto3

            sns = boto3.client("sns")
        self._topic = topic_arn
        self._sns = sns
        self._slack = slack_webhook_url
        self._timeout = timeout_s

    def send(self, alert: Alert) -> None:
        if self._topic and self._sns is not None:
            self._sns.publish(TopicArn=self._topic, Subject=alert.subject, Message=alert.text)
        if self._slack:
            try:
                self._post_slack(alert.text)
            except OSError as exc:
                # SNS carried the alert; a Slack outage must not make it repeat.
                logger.warning("slack alert failed", error=str(exc))

    def _post_slack(self, text: str) -> None:
        assert self._slack is not None
        request = urllib.request.Request(
            self._slack,
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            response.read()


def check_budgets(
    conn: Connection,
    *,
    policy: AlertPolicy,
    ledger: AlertLedger,
    notifier: AlertNotifier,
    now: dt.datetime | None = None,
) -> list[Alert]:
    """Send what is due now; returns the alerts sent."""
    from aws_lambda_powertools.metrics import MetricUnit

    now = now or dt.datetime.now(dt.UTC)
    spends = salon_spend(conn, now)
    overall = global_spend(conn, now, policy.global_budget_usd)
    spends.append(overall)
    conn.rollback()
    # A calendar-day figure for the daily-cost alarm and the dashboard.
    metrics.add_metric(
        name=MetricName.SPEND_TODAY_USD, unit=MetricUnit.NoUnit, value=float(overall.spend_usd)
    )
    sent = []
    for spend in spends:
        claimed = [t for t in policy.crossed(spend) if ledger.claim(spend.scope, spend.day, t.key)]
        if not claimed:
            continue
        alert = Alert(spend, tuple(claimed))
        try:
            notifier.send(alert)
        except Exception:
            for t in claimed:
                ledger.unclaim(spend.scope, spend.day, t.key)
            raise
        metrics.add_metric(name=MetricName.BUDGET_ALERTS_SENT, unit=MetricUnit.Count, value=1)
        logger.warning(
            "budget alert sent",
            scope=spend.scope,
            spend_usd=str(spend.spend_usd),
            thresholds=[t.key for t in claimed],
        )
        sent.append(alert)
    return sent


def run_budget_alerts(
    settings: Settings,
    *,
    conn: Connection | None = None,
    dynamodb: DynamoDBClient | None = None,
    sns: SNSClient | None = None,
    now: dt.datetime | None = None,
) -> list[Alert]:
    """The scheduled check, wired from settings (COST_TABLE for deduplication,
    ALERT_TOPIC_ARN, SLACK_WEBHOOK_URL or its secret)."""
    from salonbot.db.connection import get_connection
    from salonbot.errors import ConfigurationError
    from salonbot.secrets import resolve_secret

    if not settings.cost_table:
        raise ConfigurationError("COST_TABLE is not configured: alerts cannot be deduplicated")
    notifier = AlertNotifier(
        settings.alert_topic_arn,
        sns=sns,
        slack_webhook_url=resolve_secret(
            settings.slack_webhook_url, settings.slack_webhook_secret_arn
        ),
    )
    return check_budgets(
        conn or get_connection(settings),
        policy=AlertPolicy.from_settings(settings),
        ledger=DynamoAlertLedger(settings.cost_table, dynamodb),
        notifier=notifier,
        now=now,
    )
