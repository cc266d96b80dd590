"""A salon's figures per model-experiment arm over a window `[since, until)`.

Every message stored in an experiment carries its conversation's arm, whichever engine
answered it (the guided flow while the model is down, the FAQ): an arm is judged on the
conversations it was given, not only on the replies its model wrote. Per arm:
conversations, bookings made by the assistant, booking conversion (with a 95% Wilson
interval, so two arms are compared knowing how sure the figure is), tokens, cost, cost
per booking, the p95 response time, hand-offs, model failures and, once visits are
rated (`salonbot.ratings`), the mean rating of the arm's bookings. Arms the salon file
lists come first in its order, with zeros when nothing happened yet; arms since removed
follow, by id."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salonbot.experiment import Arm, ModelExperiment
from salonbot.ratings import rating_column

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from salonbot.db.connection import Connection

# The router notes `fallback: <reason>` on a reply the fallback wrote; these reasons are
# not the model failing (the others are: model_error, reply_cut, model_quota, breaker_auth...).
FALLBACK_NOTE = "fallback: "
NOT_MODEL_FAILURES = tuple(
    FALLBACK_NOTE + reason for reason in ("ai_disabled", "switched_off", "no_key", "budget")
)
# SQL: the message is a reply the fallback wrote because the model failed.
MODEL_FAILED = (
    "EXISTS (SELECT 1 FROM unnest(notes) n WHERE n LIKE %(fallback)s || '%%' "
    "AND n <> ALL(%(not_failures)s))"
)
_Z95 = 1.959964


@dataclass(frozen=True)
class ArmStats:
    arm: str
    in_salon_file: bool  # False: an arm removed since, still in the window's messages
    weight: float | None
    temperature: float | None
    models: list[str]  # the models that answered (replies) in this arm's conversations
    conversations: int
    conversations_with_booking: int
    conversion_rate: float  # 0..1
    conversion_ci95: tuple[float, float]
    bookings: int
    model_replies: int
    prompt_tokens: int
    completion_tokens: int
    tokens_used: int
    cost_usd: Decimal
    cost_per_booking_usd: Decimal | None
    p95_response_time_ms: float | None
    handoffs: int  # conversations handed to staff by a reply
    model_failures: int  # replies the fallback wrote because the model failed
    feedback_rating: float | None  # mean 1..5 of the arm's rated bookings; None: not rated
    ratings: int | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_usd"] = str(self.cost_usd)
        data["cost_per_booking_usd"] = (
            None if self.cost_per_booking_usd is None else str(self.cost_per_booking_usd)
        )
        data["conversion_ci95"] = list(self.conversion_ci95)
        return data


_ARMS = f"""
WITH m AS (
    SELECT *, {MODEL_FAILED} AS model_failed FROM ai_messages
    WHERE salon_id = %(salon)s AND created_at >= %(since)s AND created_at < %(until)s
      AND experiment_arm IS NOT NULL
)
SELECT experiment_arm AS arm,
       coalesce(array_agg(DISTINCT model)
                FILTER (WHERE role = 'assistant' AND model IS NOT NULL), '{{}}') AS models,
       count(DISTINCT conversation_id) AS conversations,
       count(DISTINCT conversation_id) FILTER (WHERE booking_code IS NOT NULL)
           AS conversations_with_booking,
       count(DISTINCT booking_code) AS bookings,
       count(*) FILTER (WHERE role = 'assistant' AND tokens_used > 0) AS model_replies,
       coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
       coalesce(sum(completion_tokens), 0) AS completion_tokens,
       coalesce(sum(cost), 0) AS cost_usd,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms)
           FILTER (WHERE role = 'assistant' AND response_time_ms IS NOT NULL)
           AS p95_response_time_ms,
       count(DISTINCT conversation_id) FILTER (WHERE handoff) AS handoffs,
       count(*) FILTER (WHERE model_failed) AS model_failures
  FROM m
 GROUP BY experiment_arm
"""

_RATINGS = """
SELECT m.experiment_arm AS arm, avg(b.{column}) AS rating, count(b.{column}) AS ratings
  FROM (SELECT DISTINCT experiment_arm, booking_code FROM ai_messages
         WHERE salon_id = %(salon)s AND created_at >= %(since)s AND created_at < %(until)s
           AND experiment_arm IS NOT NULL AND booking_code IS NOT NULL) m
  JOIN bookings b ON b.salon_id = %(salon)s AND b.code = m.booking_code
 GROUP BY m.experiment_arm
"""


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion; (0, 0) without trials."""
    if trials == 0:
        return (0.0, 0.0)
    p = successes / trials
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = _Z95 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def arm_stats(
    conn: Connection, salon: uuid.UUID, since: dt.datetime, until: dt.datetime
) -> list[ArmStats]:
    """The salon's arms over the window (empty when it never ran an experiment)."""
    params = {
        "salon": salon,
        "since": since,
        "until": until,
        "fallback": FALLBACK_NOTE,
        "not_failures": list(NOT_MODEL_FAILURES),
    }
    found = {row["arm"]: row for row in conn.execute(_ARMS, params).fetchall()}
    ratings: dict[str, dict[str, Any]] | None = None
    column = rating_column(conn)
    if column is not None:
        from psycopg import sql

        query = sql.SQL(_RATINGS).format(column=sql.Identifier(column))
        ratings = {row["arm"]: row for row in conn.execute(query, params).fetchall()}
    setting = conn.execute("SELECT model_experiment FROM salons WHERE id = %s", (salon,)).fetchone()
    experiment = ModelExperiment.from_json(setting["model_experiment"] if setting else None)
    configured = list(experiment.arms) if experiment else []
    names = [a.id for a in configured] + sorted(set(found) - {a.id for a in configured})
    result = []
    for name in names:
        arm = experiment.arm(name) if experiment else None
        row = found.get(name, {})
        rated = None if ratings is None else ratings.get(name, {})
        result.append(_arm(name, arm, row, rated))
    return result


def _arm(name: str, arm: Arm | None, row: dict[str, Any], rated: dict[str, Any] | None) -> ArmStats:
    conversations = int(row.get("conversations", 0))
    with_booking = int(row.get("conversations_with_booking", 0))
    bookings = int(row.get("bookings", 0))
    prompt, completion = int(row.get("prompt_tokens", 0)), int(row.get("completion_tokens", 0))
    cost = Decimal(row.get("cost_usd", 0))
    p95 = row.get("p95_response_time_ms")
    rating = rated.get("rating") if rated is not None else None
    return ArmStats(
        arm=name,
        in_salon_file=arm is not None,
        weight=arm.weight if arm is not None else None,
        temperature=arm.temperature if arm is not None else None,
        models=sorted(row.get("models", [])) or ([arm.model] if arm is not None else []),
        conversations=conversations,
        conversations_with_booking=with_booking,
        conversion_rate=round(with_booking / conversations, 4) if conversations else 0.0,
        conversion_ci95=wilson_interval(with_booking, conversations),
        bookings=bookings,
        model_replies=int(row.get("model_replies", 0)),
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens_used=prompt + completion,
        cost_usd=cost,
        cost_per_booking_usd=(cost / bookings).quantize(Decimal("0.000001")) if bookings else None,
        p95_response_time_ms=round(float(p95), 1) if p95 is not None else None,
        handoffs=int(row.get("handoffs", 0)),
        model_failures=int(row.get("model_failures", 0)),
        feedback_rating=round(float(rating), 2) if rating is not None else None,
        ratings=int(rated.get("ratings", 0)) if rated is not None else None,
    )
