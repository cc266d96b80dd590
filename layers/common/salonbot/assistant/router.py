"""Which engine answers a message: the LLM agent when the salon has AI on, a model is
configured, the kill switch is on and the spend guard allows the call; otherwise the
fallback engine (the guided flow), so the customer is served without OpenAI (no key,
switched off, over budget, outage) at no token cost. Frequent questions (prices,
address, hours) are answered from the salon's data before either, in both modes. If the
guided flow itself fails, the fixed apology is the last resort: a customer never meets
silence.

Conversations with staff and salons with AI off get no engine at all: the processor
stores their messages for the staff before it ever asks the router."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.assistant.agent import ModelUnavailable
from salonbot.assistant.fallback import FixedReply
from salonbot.assistant.faq import FaqResponder
from salonbot.conversation import store as conversations
from salonbot.errors import BudgetExceeded
from salonbot.observability import MetricName, count_error, logger, metrics

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.assistant.base import Assistant, TurnInput, TurnResult
    from salonbot.assistant.switch import AiSwitch
    from salonbot.config import Settings
    from salonbot.db.connection import Connection

MISSING_KEY = "OPENAI_API_KEY is not configured"
# No key is a supported mode (the guided flow serves every customer): said once, not an error.
NO_KEY_NOTICE = f"{MISSING_KEY}: the guided flow answers"


class AssistantRouter:
    """`Assistant` that delegates each turn to the agent or the fallback."""

    def __init__(
        self,
        *,
        agent: Assistant | None,
        fallback: Assistant,
        faq: FaqResponder | None = None,
        switch: AiSwitch | None = None,
    ) -> None:
        self.agent = agent
        self.fallback = fallback
        self.faq = faq
        self.switch = switch
        self._missing_key_logged = False

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        result = self._respond(conn, turn)
        if result.model_calls == 0 and result.tokens_used == 0:
            metrics.add_metric(name=MetricName.ZERO_TOKEN_TURNS, unit=MetricUnit.Count, value=1)
        return result

    def _respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        switched_off = self.switch is not None and self.switch.is_off(conn, turn.salon.id)
        if switched_off:
            metrics.add_metric(name=MetricName.SWITCHED_OFF_TURNS, unit=MetricUnit.Count, value=1)
        if self.faq is not None:
            answer = self.faq.respond(conn, turn)
            if answer is not None:
                return answer
        if not turn.salon.ai_enabled:
            return self._fall_back(conn, turn, "ai_disabled")
        if switched_off:
            return self._fall_back(conn, turn, "switched_off")
        if self.agent is None:
            if not self._missing_key_logged:
                logger.info(NO_KEY_NOTICE)
                self._missing_key_logged = True
            return self._fall_back(conn, turn, "no_key")
        # The agent's database effects run in a savepoint: when the model fails the
        # fallback starts from a clean slate (the agent itself keeps effects it reports).
        try:
            with conn.transaction():
                result = self.agent.respond(conn, turn)
        except BudgetExceeded:
            # The cost guard counted the refusal (BudgetRefusals) where it made it.
            logger.warning("daily budget reached: fallback engine answers")
            return self._fall_back(conn, turn, "budget")
        except ModelUnavailable as exc:
            if exc.outage:
                metrics.add_metric(name=MetricName.MODEL_FAILURES, unit=MetricUnit.Count, value=1)
                count_error("model")
                logger.error(
                    "model unavailable: fallback engine answers", extra={"error": str(exc)}
                )
            else:
                # A cut reply or an open breaker: counted by their own metrics.
                logger.warning(
                    "no model answer: fallback engine answers", extra={"error": str(exc)}
                )
            result = self._fall_back(conn, turn, exc.reason)
            spent = exc.usage
            if spent is not None and spent.calls:
                # Calls that answered before the failure were paid for: the reply says so,
                # as the cost guard already counted them.
                result.prompt_tokens += spent.prompt_tokens
                result.completion_tokens += spent.completion_tokens
                result.cached_tokens += spent.cached_tokens
                result.cost += spent.cost
                result.model_calls += spent.calls
                result.model = result.model or exc.model or getattr(self.agent, "model", None)
            return result
        except Exception as exc:
            from salonbot.db.transient import is_transient

            if is_transient(conn, exc):
                raise  # the database's: the message is retried
            # Anything else would fail every delivery of the message the same way: the
            # fallback answers once, and the error is counted and logged with its trace.
            metrics.add_metric(name=MetricName.MODEL_FAILURES, unit=MetricUnit.Count, value=1)
            count_error("model")
            logger.exception("model engine failed: fallback engine answers")
            return self._fall_back(conn, turn, "model_error")
        # The model answered: a question the guided flow asked before (during an outage) is
        # stale, so a "yes" meant for the model's offer never confirms the guided one.
        if turn.guided_state is None or turn.guided_state:
            conversations.clear_state(conn, turn.conversation_id)
        return result

    def _fall_back(self, conn: Connection, turn: TurnInput, reason: str) -> TurnResult:
        metrics.add_metric(name=MetricName.FALLBACKS, unit=MetricUnit.Count, value=1)
        result = self.fallback.respond(conn, turn)
        result.notes.append(f"fallback: {reason}")
        return result


class WithLastResort:
    """`Assistant` that runs `engine` in a savepoint and answers with the fixed text if it
    fails (a bug, bad data): its partial effects are undone, the customer still hears
    back. A broken connection or a transient database error (a statement timeout behind
    a lock, a deadlock) is not the engine's fault: it propagates, the turn rolls back and
    the message is retried, instead of the customer getting an apology for a booking
    that a retry would have made."""

    def __init__(self, engine: Assistant, last_resort: Assistant | None = None) -> None:
        self.engine = engine
        self.last_resort = last_resort or FixedReply()

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        try:
            with conn.transaction():
                return self.engine.respond(conn, turn)
        except Exception as exc:
            import psycopg

            if conn.broken or conn.closed or isinstance(exc, psycopg.OperationalError):
                raise
            count_error("guided")
            logger.exception("guided flow failed: fixed reply", extra={"error": str(exc)})
            result = self.last_resort.respond(conn, turn)
            result.notes.append("guided flow failed")
            return result


def fallback_engine(
    settings: Settings, *, clock: Callable[[], dt.datetime] | None = None
) -> Assistant:
    """The engine that answers without the model: the guided flow, the fixed text as its
    last resort. `clock`: the time the turn happens at (the evaluation fixes it)."""
    from salonbot.assistant.guided import GuidedFlow

    ttl = dt.timedelta(minutes=settings.guided_state_ttl_minutes)
    return WithLastResort(GuidedFlow(state_ttl=ttl, clock=clock))


def warn_if_unpriced(settings: Settings) -> str | None:
    """Said once per container at start: a model the price table does not know is
    priced at the most expensive known rate unless OPENAI_PRICE_* say otherwise."""
    from salonbot.cost.pricing import configured_quote

    warning = configured_quote(settings).warning
    if warning is not None:
        logger.warning(warning)
    return warning


def build_router(
    settings: Settings, *, clock: Callable[[], dt.datetime] | None = None
) -> AssistantRouter:
    """The router the processor and the API use, built once per container."""
    from salonbot.assistant.agent import LlmAgent, openai_client
    from salonbot.assistant.switch import AiSwitch
    from salonbot.cost.guard import from_settings

    client = openai_client(settings)
    agent = None
    if client is not None:
        agent = LlmAgent(client, settings, guard=from_settings(settings), clock=clock)
        warn_if_unpriced(settings)
    return AssistantRouter(
        agent=agent,
        fallback=fallback_engine(settings, clock=clock),
        faq=FaqResponder(),
        switch=AiSwitch(),
    )
