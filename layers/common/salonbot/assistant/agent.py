"""The LLM agent: OpenAI chat completions with tools over the booking core.

One customer message is one turn: the system prompt, the conversation's recent history
and the message go to the model; tool calls (parallel ones too) run against the database
inside the caller's transaction and their results go back; the loop ends with a text
reply or after `assistant_max_model_calls` calls (the last one may not call tools).

Before every model call the estimated cost is reserved with the spend guard (which may
refuse: `BudgetExceeded`), after it the reservation is reconciled to the reported usage,
and released when the call failed. Transient failures (rate limits, 5xx, timeouts,
connection errors) are retried with backoff inside the turn's deadline, a Retry-After
honoured when the deadline has room for it; what still fails raises `ModelUnavailable`,
unless bookings already changed this turn: then the reply is composed from what the
database accepted, so a booking is never made silently. `429 insufficient_quota` and
`401` are never retried: they open the model's breaker (`assistant/breaker.py`), and
until it closes every turn goes straight to the fallback.

What the model answers is read as the API reference defines it: a refusal (or a
content-filtered answer) is answered with the catalogue's polite reply; a completion cut
at its token limit (`finish_reason: length`) is never sent: the call is repeated once
with twice the limit (reserved with the guard like any call), else the fallback answers;
a tool call of another type (`custom`) or naming no tool is refused to the model as an
invalid call and the turn goes on. Anything unexpected (a response shape outside the
reference, a bug) raises `ModelUnavailable` too, so the fallback answers instead of the
message being retried into the same failure; only the database's transient errors
propagate as they are (`salonbot.db.transient`)."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salonbot.assistant.base import TurnResult
from salonbot.assistant.breaker import ModelBreaker, access_failure
from salonbot.assistant.language import detect_language
from salonbot.assistant.model_params import CompletionShape
from salonbot.assistant.prompt import RULES, build_system_prompt, last_visit_line
from salonbot.assistant.tools import TOOL_SPECS, ToolContext, run_tool
from salonbot.assistant.tools.results import error as tool_error
from salonbot.assistant.vision import IMAGE_TOKENS, user_content, without_images
from salonbot.booking.codes import ALPHABET, LENGTH, looks_like_code
from salonbot.booking.desk import PostgresDesk
from salonbot.clean_text import clean_text
from salonbot.conversation import store as conversations
from salonbot.cost.guard_protocol import UnlimitedSpend
from salonbot.cost.pricing import configured_quote, model_quote
from salonbot.db.transient import is_transient
from salonbot.errors import BookingNotFound, BudgetExceeded, SalonbotError
from salonbot.observability import MetricName, count_error, logger, metrics
from salonbot.secrets import resolve_secret
from salonbot.texts import phrases
from salonbot.time_budget import model_deadline
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from openai import OpenAI
    from openai.types.chat import ChatCompletion

    from salonbot.assistant.base import TurnInput
    from salonbot.booking.catalog import Salon
    from salonbot.booking.store import Booking
    from salonbot.config import Settings
    from salonbot.cost.guard_protocol import SpendGuard
    from salonbot.cost.pricing import ModelPrice
    from salonbot.db.connection import Connection
    from salonbot.experiment import Arm

# A compatible server reached through OPENAI_BASE_URL may need no key; the SDK wants one.
NO_KEY_NEEDED = "not-needed"
# Longest wait a Retry-After header may impose inside a turn; a longer one is not waited
# for (a retry sooner than asked would only be refused again).
MAX_RETRY_AFTER_S = 10.0
# A completion cut at its token limit is asked again once with this many times the limit.
LENGTH_RETRY_FACTOR = 2
# Finish reasons that mean the content is withheld: the customer gets the polite reply.
WITHHELD = frozenset({"content_filter"})
# The reservation counts a request's UTF-8 bytes as its prompt tokens: a token is at least
# one byte, and the chat format's framing of a message or a tool is shorter than its JSON.
# Added for the request's own framing (reply priming, the tools' header).
REQUEST_OVERHEAD_TOKENS = 64

# Sentences of the system prompt's instructions: a reply quoting one leaks the prompt.
_PROMPT_FRAGMENTS = tuple(
    sentence.strip().casefold()
    for sentence in (*RULES.split(". "), "You are the WhatsApp booking assistant")
    if len(sentence.strip()) >= 30
)

_CODE_LIKE = re.compile(rf"(?<![0-9A-Za-z])[{ALPHABET}]{{{LENGTH}}}(?![0-9A-Za-z])")
# A reply telling the customer they are booked (Russian and English).
_CLAIMS_BOOKED = re.compile(
    r"(?<!\w)вы\s+записаны|запись\s+подтвержден|записал[аи]?\s+вас"
    r"|\byou(?:['’]re|\s+are)\s+booked|\bbooking\s+(?:is\s+)?confirmed"
    r"|\bI(?:['’]ve|\s+have)\s+booked",
    re.IGNORECASE,
)


class ModelUnavailable(SalonbotError):
    """The model gave no usable answer (after retries): the caller serves the fallback.

    `usage` is what the turn's successful model calls cost before it failed (a tool loop
    that never ended in a reply is paid for): the fallback's reply records it, with
    `model`, the model those calls went to."""

    usage: Usage | None = None
    model: str | None = None

    def __init__(self, message: str, *, reason: str = "model_error", outage: bool = True) -> None:
        super().__init__(message)
        # Said in the fallback's note; an outage counts in ModelFailures, a cut reply or
        # an open breaker does not (they have metrics of their own).
        self.reason = reason
        self.outage = outage


def openai_api_key(settings: Settings) -> str | None:
    """The key from OPENAI_API_KEY or its secret; a placeholder when only OPENAI_BASE_URL
    is set (a local or self-hosted server); None when the model is not configured."""
    key = resolve_secret(settings.openai_api_key, settings.openai_api_key_secret_arn)
    if key:
        return key
    return NO_KEY_NEEDED if settings.openai_base_url else None


_clients: dict[tuple[str, str | None, float], OpenAI] = {}
_clients_lock = threading.Lock()


def openai_client(settings: Settings) -> OpenAI | None:
    """One SDK client per container (it keeps the HTTPS connection alive); None without a
    key. Retries are ours (bounded by the turn's deadline), so the SDK makes none."""
    key = openai_api_key(settings)
    if key is None:
        return None
    cache_key = (key, settings.openai_base_url, settings.openai_timeout_s)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            from openai import OpenAI

            client = OpenAI(
                api_key=key,
                base_url=settings.openai_base_url,
                timeout=settings.openai_timeout_s,
                max_retries=0,
            )
            _clients[cache_key] = client
        return client


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)
    calls: int = 0

    def add(self, response: ChatCompletion, price: ModelPrice, estimate: Decimal) -> Decimal:
        """Count one answered call; one that reports no usage costs its `estimate`.
        `completion_tokens` includes a reasoning model's reasoning tokens: output."""
        usage = response.usage
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        details = usage.prompt_tokens_details if usage else None
        cached = (details.cached_tokens or 0) if details else 0
        if usage is None:
            logger.warning("model response without usage: counted at its estimate")
            cost = estimate
        else:
            cost = price.cost(prompt, completion, cached)
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.cached_tokens += cached
        self.cost += cost
        self.calls += 1
        return cost


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        if access_failure(exc) is not None:
            return False  # no credit, or a rejected key: no retry can cure it
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def _retry_after_s(exc: Exception) -> float | None:
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if not value:
            continue
        try:
            return max(float(value) / divisor, 0.0)
        except ValueError:
            pass
        if header == "retry-after":  # an HTTP date
            from email.utils import parsedate_to_datetime

            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)
    return None


def _history_message(entry: conversations.HistoryEntry) -> dict[str, Any]:
    if entry.role == "staff":
        return {"role": "assistant", "content": f"(staff) {entry.content}"}
    return {"role": entry.role, "content": entry.content}


def _echoed_call(call: Any) -> dict[str, Any]:
    """A tool call as the next request repeats it: a function call as sent, a call of
    another type (`custom`) as the model made it."""
    if not isinstance(getattr(call, "id", None), str):
        raise ModelUnavailable("a tool call without an id")
    if call.type == "function":
        function = call.function
        return {
            "id": call.id,
            "type": "function",
            "function": {"name": function.name, "arguments": function.arguments},
        }
    echoed: dict[str, Any] = call.model_dump(exclude_none=True)
    return echoed


def _tool_call_message(message: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [_echoed_call(call) for call in message.tool_calls],
    }


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _describe(key: str, booking: Booking, language: str) -> str:
    t = phrases(language)
    names = booking.service_names
    return t[key].format(
        service=names.get(language) or next(iter(names.values()), booking.service_code),
        when=t.when(booking.starts_at),
        master=booking.master_name,
        code=booking.code,
    )


def confirmation_lines(ctx: ToolContext, language: str) -> list[str]:
    """What the database accepted this turn, in words the customer reads."""
    lines = [_describe("recap_booked", b, language) for b in ctx.booked]
    lines += [_describe("recap_moved", b, language) for b in ctx.moved]
    lines += [_describe("recap_cancelled", b, language) for b in ctx.cancelled]
    if ctx.handoff:
        lines.append(phrases(language)["recap_handoff"])
    return lines


@dataclass(frozen=True)
class ModelPlan:
    """The model a turn calls, how its requests are shaped and what it costs: OPENAI_MODEL,
    or the conversation's model-experiment arm."""

    model: str
    shape: CompletionShape
    price: ModelPrice


class LlmAgent:
    """`Assistant` backed by an OpenAI-compatible chat completions endpoint."""

    def __init__(
        self,
        client: OpenAI,
        settings: Settings,
        *,
        guard: SpendGuard[Any] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        prompt_builder: Callable[[Salon, dt.datetime], str] = build_system_prompt,
        tool_specs: Sequence[dict[str, Any]] = TOOL_SPECS,
        history_limit: int | None = None,
        history_token_budget: int | None = None,
        breaker: ModelBreaker | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._guard: SpendGuard[Any] = guard or UnlimitedSpend()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._sleep = sleep
        self._prompt_builder = prompt_builder
        self._tools = list(tool_specs)
        self._history_limit = history_limit or settings.history_messages
        self._history_budget = history_token_budget or settings.history_token_budget
        self.model = settings.openai_model
        self._shape = CompletionShape.for_settings(settings)
        self._price = configured_quote(settings).price
        self.breaker = breaker or ModelBreaker(settings.openai_breaker_minutes)

    # -- the turn ---------------------------------------------------------------------------

    def plan_for(self, arm: Arm | None) -> ModelPlan:
        """OPENAI_MODEL at OPENAI_TEMPERATURE, or the arm's model at its temperature."""
        if arm is None:
            return ModelPlan(self.model, self._shape, self._price)
        return ModelPlan(
            arm.model,
            CompletionShape.for_model(self._settings, arm.model, arm.temperature),
            model_quote(self._settings, arm.model).price,
        )

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        plan = self.plan_for(turn.experiment_arm)
        held = self.breaker.open_reason(plan.model)
        if held is not None:
            # Every call would fail as the last one did: no reservation, no wait.
            metrics.add_metric(name=MetricName.MODEL_BREAKER_OPEN, unit="Count", value=1)
            refused = ModelUnavailable(
                f"the model's breaker is open ({held})", reason=f"breaker_{held}", outage=False
            )
            refused.model = plan.model
            raise refused
        deadline = model_deadline(time.monotonic() + self._settings.assistant_deadline_s)
        now = self._clock().astimezone(turn.salon.tz)
        language = detect_language(turn.text, turn.default_language)
        ctx = ToolContext(
            desk=PostgresDesk(conn, turn.salon, turn.phone, now),
            language=language,
            message_id=turn.message_id,
            client_name=turn.contact_name,
        )
        messages = self._opening(
            conn, turn, now, last_visit_line(turn.salon, ctx.desk.last_visit())
        )
        usage = Usage()
        text = ""
        notes: list[str] = []
        guardrails: list[str] = []
        try:
            try:
                text, withheld = self._loop(turn, plan, ctx, messages, usage, deadline)
                if withheld is not None:
                    # The model declined (or its answer was filtered): an answer, not an
                    # outage. The customer gets the catalogue's polite reply.
                    metrics.add_metric(name=MetricName.MODEL_REFUSALS, unit="Count", value=1)
                    logger.info("model declined: polite reply", extra={"reason": withheld})
                    notes.append(f"model: {withheld}")
                    text = phrases(language, turn.salon.language)["model_refusal"]
            except (ModelUnavailable, SalonbotError) as exc:
                if not (ctx.changed_bookings or ctx.handoff):
                    raise
                # Bookings changed before the model failed: say what the database accepted.
                logger.warning("model failed after tool effects", extra={"error": str(exc)})
                text = ""
            text = self._checked_reply(ctx, text, language, guardrails)
        except ModelUnavailable as exc:
            exc.usage = usage
            exc.model = plan.model
            raise
        except BudgetExceeded:
            raise
        except Exception as exc:
            if is_transient(conn, exc):
                raise
            # A response shape or a state this code does not expect (a tool call of an
            # unknown type, `message: null`, a bug): every delivery of the message would
            # meet it again, paying for the same calls. The fallback engine answers.
            logger.exception("unexpected error in the model turn")
            failure = ModelUnavailable(f"unexpected {type(exc).__name__} in the model turn")
            failure.usage = usage
            failure.model = plan.model
            raise failure from exc
        changed = ctx.booked or ctx.moved
        booking = changed[-1] if changed else None
        return TurnResult(
            messages=[TextMessage(body=text)],
            engine="llm",
            language=language,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost=usage.cost,
            model=plan.model,
            model_calls=usage.calls,
            booking_code=booking.code if booking else None,
            handoff=ctx.handoff,
            notes=[
                *notes,
                *(f"guardrail: {kind}" for kind in guardrails),
                *([f"handoff: {ctx.handoff_reason}"] if ctx.handoff_reason else []),
            ],
            tool_calls=ctx.calls,
        )

    def _opening(
        self, conn: Connection, turn: TurnInput, now: dt.datetime, memory: str | None = None
    ) -> list[dict[str, Any]]:
        history = conversations.history(
            conn, turn.conversation_id, limit=self._history_limit, token_budget=self._history_budget
        )
        # A burst's earlier messages are stored, unanswered: the turn's text holds them.
        held = set(turn.message.earlier)
        while held and history and history[-1].role == "user" and history[-1].content in held:
            history.pop()
        system = self._prompt_builder(turn.salon, now)
        if memory:  # the customer's last visit, after the salon's own (cacheable) prompt
            system = f"{system}\n{memory}"
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            *(_history_message(entry) for entry in history),
        ]
        # The processor stores the customer's message before the turn; a direct caller may not.
        image = turn.message.image_data_url
        if image is not None:
            # The photo's turn: the stored row is its text; the model gets the image too.
            if history and history[-1] == conversations.HistoryEntry("user", turn.model_text):
                messages.pop()
            messages.append({"role": "user", "content": user_content(turn.model_text, image)})
        elif not history or history[-1] != conversations.HistoryEntry("user", turn.model_text):
            messages.append({"role": "user", "content": turn.model_text})
        return messages

    def _loop(
        self,
        turn: TurnInput,
        plan: ModelPlan,
        ctx: ToolContext,
        messages: list[dict[str, Any]],
        usage: Usage,
        deadline: float,
    ) -> tuple[str, str | None]:
        """The reply's text, and why the model withheld it ("refusal", "content_filter")
        or None."""
        max_calls = self._settings.assistant_max_model_calls
        limit = plan.shape.max_tokens
        cut_retried = False  # one larger call per turn, however many calls it makes
        for call in range(max_calls):
            final = call == max_calls - 1
            response = self._complete(
                turn, plan, messages, usage, deadline, tools_allowed=not final, max_tokens=limit
            )
            if self._cut(response):
                # Never sent: the text (or a tool call's arguments) stops mid-way. Asked
                # again once with a larger limit, which the guard reserves for.
                if cut_retried:
                    raise ModelUnavailable(
                        "a second reply of the turn was cut", reason="reply_cut", outage=False
                    )
                cut_retried = True
                limit *= LENGTH_RETRY_FACTOR
                logger.warning("model reply cut at its token limit: asked again", limit=limit)
                try:
                    response = self._complete(
                        turn,
                        plan,
                        messages,
                        usage,
                        deadline,
                        tools_allowed=not final,
                        max_tokens=limit,
                    )
                except BudgetExceeded as exc:
                    raise ModelUnavailable(
                        "a cut reply, and no budget for a longer one",
                        reason="reply_cut",
                        outage=False,
                    ) from exc
                if self._cut(response):
                    raise ModelUnavailable(
                        "the reply was cut at its token limit twice",
                        reason="reply_cut",
                        outage=False,
                    )
            choice = response.choices[0]
            message = choice.message
            if choice.finish_reason in WITHHELD:
                return "", str(choice.finish_reason)
            if message.tool_calls and not final:
                messages.append(_tool_call_message(message))
                for tool_call in message.tool_calls:
                    result = self._run_call(ctx, tool_call)
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": tool_call.id,
                            "content": _compact_json(result),
                        }
                    )
                continue
            if message.refusal and not (message.content or "").strip():
                return "", "refusal"
            # Cleaned like every text taken in: the reply must be stored to be sent.
            return clean_text(message.content or "").strip(), None
        raise ModelUnavailable("no reply within the model call limit")  # pragma: no cover

    @staticmethod
    def _cut(response: ChatCompletion) -> bool:
        if not response.choices:
            raise ModelUnavailable("the model returned no choices")
        if response.choices[0].finish_reason != "length":
            return False
        metrics.add_metric(name=MetricName.MODEL_REPLIES_CUT, unit="Count", value=1)
        return True

    @staticmethod
    def _run_call(ctx: ToolContext, call: Any) -> dict[str, Any]:
        """One tool call's result: a function call runs (an unknown name is refused by the
        registry); a call of another type is refused here. Both are recorded."""
        if call.type == "function":
            result = run_tool(ctx, call.function.name, call.function.arguments)
            if result.get("error") == "unknown_tool":
                metrics.add_metric(name=MetricName.TOOL_CALLS_REFUSED, unit="Count", value=1)
            return result
        metrics.add_metric(name=MetricName.TOOL_CALLS_REFUSED, unit="Count", value=1)
        logger.warning("tool call of an unsupported type refused", extra={"type": str(call.type)})
        refused = tool_error(
            "unsupported_tool_type",
            f"tool calls of type {call.type!r} are not offered; call one of the functions",
        )
        custom = getattr(call, "custom", None)
        ctx.calls.append(
            {
                "name": getattr(custom, "name", None),
                "arguments": getattr(custom, "input", None),
                "type": call.type,
                "result": refused,
            }
        )
        return refused

    # -- one model call ---------------------------------------------------------------------

    def _estimate(
        self, messages: list[dict[str, Any]], max_tokens: int, price: ModelPrice
    ) -> Decimal:
        """An upper bound of the call's cost: every byte of the request a prompt token,
        `max_tokens` of completion (a reasoning model's reasoning included); an image
        `IMAGE_TOKENS` (`salonbot.assistant.vision`), not its data URL's bytes."""
        plain, images = without_images(messages)
        size = len(_compact_json(plain).encode()) + len(_compact_json(self._tools).encode())
        prompt_tokens = size + REQUEST_OVERHEAD_TOKENS + images * IMAGE_TOKENS
        return price.cost(prompt_tokens, max_tokens)

    def _complete(
        self,
        turn: TurnInput,
        plan: ModelPlan,
        messages: list[dict[str, Any]],
        usage: Usage,
        deadline: float,
        *,
        tools_allowed: bool,
        max_tokens: int,
    ) -> ChatCompletion:
        import openai

        settings = self._settings
        estimate = self._estimate(messages, max_tokens, plan.price)
        try:
            reservation = self._guard.reserve(
                salon_id=str(turn.salon.id),
                timezone=turn.salon.timezone,
                daily_budget_usd=Decimal(turn.salon.daily_budget_usd),
                amount_usd=estimate,
                reservation_id=f"{turn.message_id or 'api'}:{uuid.uuid4().hex}",
                customer_phone=turn.phone,
                customer_daily_budget_usd=turn.salon.customer_daily_budget_usd,
            )
        except BudgetExceeded:
            raise
        except Exception as exc:
            # The guard's store is throttled or down: no call without a reservation, but
            # the customer is still answered, by the fallback engine.
            count_error("cost_guard")
            logger.exception("cost guard reserve failed: no model call")
            raise ModelUnavailable(f"cost guard unavailable: {type(exc).__name__}") from exc
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise ModelUnavailable("the turn's deadline passed")
                metrics.add_metric(name=MetricName.MODEL_CALLS, unit="Count", value=1)
                response: ChatCompletion = self._client.chat.completions.create(  # type: ignore[call-overload]
                    model=plan.model,
                    messages=messages,
                    tools=self._tools,
                    tool_choice="auto" if tools_allowed else "none",
                    parallel_tool_calls=True,
                    timeout=min(settings.openai_timeout_s, remaining),
                    **plan.shape.params(max_tokens),
                )
            except (openai.OpenAIError, ModelUnavailable, ValueError) as exc:
                # ValueError: a 200 whose body is not JSON (a proxy's error page), not retried.
                denied = access_failure(exc)
                if denied is not None:
                    self._settle(self._guard.release, reservation)
                    self._deny(plan.model, denied, exc)
                wait = self._backoff(attempt, exc)
                if wait is None or time.monotonic() + wait >= deadline:
                    self._settle(self._guard.release, reservation)
                    raise ModelUnavailable(f"model call failed: {type(exc).__name__}") from exc
                logger.info(
                    "model call retried",
                    extra={"attempt": attempt + 1, "error": type(exc).__name__},
                )
                self._sleep(wait)
                attempt += 1
                continue
            except BaseException:
                self._settle(self._guard.release, reservation)
                raise
            cost = usage.add(response, plan.price, estimate)
            # The call is paid for and answered: a guard failure now must not cost the
            # answer (a retried message would pay for a second call).
            self._settle(self._guard.reconcile, reservation, cost)
            return response

    def _deny(self, model: str, denied: str, exc: Exception) -> None:
        """No credit (429 insufficient_quota) or a rejected key (401): counted for the
        alarms, the breaker opens, the fallback answers."""
        metric = (
            MetricName.MODEL_QUOTA_EXHAUSTED
            if denied == "quota"
            else MetricName.MODEL_AUTH_FAILURES
        )
        metrics.add_metric(name=metric, unit="Count", value=1)
        self.breaker.trip(model, "quota" if denied == "quota" else "auth")
        code = getattr(exc, "code", None)
        logger.error(
            "model access refused: breaker open",
            extra={
                "reason": denied,
                "code": code,
                "minutes": self._settings.openai_breaker_minutes,
            },
        )
        refused = ModelUnavailable(
            f"model access refused: {denied} ({code})", reason=f"model_{denied}"
        )
        refused.model = model
        raise refused from exc

    @staticmethod
    def _settle(action: Callable[..., None], *args: Any) -> None:
        """Reconcile or release a reservation; a failure is logged and counted, never
        raised. The held estimate then stays counted: spend is over-counted, never under."""
        try:
            action(*args)
        except Exception:
            count_error("cost_guard")
            logger.exception(f"cost guard {action.__name__} failed: the turn goes on")

    def _backoff(self, attempt: int, exc: Exception) -> float | None:
        """Seconds to wait before retrying, or None when this failure is not retried."""
        if attempt >= self._settings.openai_max_retries or not _retryable(exc):
            return None
        hinted = _retry_after_s(exc)
        if hinted is not None:
            # Waiting less than asked would only be refused again: a longer hint is not
            # waited for (the caller also gives up when the turn's deadline is nearer).
            return hinted if hinted <= MAX_RETRY_AFTER_S else None
        return float(self._settings.openai_retry_base_s * (2**attempt))

    # -- the reply the customer gets ----------------------------------------------------

    def _checked_reply(
        self, ctx: ToolContext, text: str, language: str, guardrails: list[str]
    ) -> str:
        """The model may only confirm what the database accepted: every booking made or
        moved this turn is named with its code, a code that is not this customer's never
        reaches them, and "you are booked" with nothing booked is only said of a booking
        the customer has (named by its code)."""
        if text and self._reveals_internals(text):
            # A prompt injection the model obeyed: the instructions or a key never go out.
            logger.warning("reply would reveal the instructions or a secret: refused")
            metrics.add_metric(name=MetricName.ERRORS, unit="Count", value=1)
            guardrails.append("revealed_internals")
            text = phrases(language)["refused_reply"]
        if text and self._names_unknown_code(ctx, text):
            logger.warning("reply named a booking code the customer does not have")
            metrics.add_metric(name=MetricName.ERRORS, unit="Count", value=1)
            guardrails.append("unknown_code")
            text = phrases(language)["unconfirmed_booking"]
        if text and not (ctx.booked or ctx.moved) and self._claims_unmade_booking(text):
            logger.warning("reply says booked but nothing was booked this turn")
            metrics.add_metric(name=MetricName.ERRORS, unit="Count", value=1)
            guardrails.append("unmade_booking")
            text = phrases(language)["unconfirmed_booking"]
        missing = [b for b in (*ctx.booked, *ctx.moved) if b.code not in text]
        if not text or missing:
            extra = (
                confirmation_lines(ctx, language)
                if not text
                else [
                    _describe("recap_booked" if b in ctx.booked else "recap_moved", b, language)
                    for b in missing
                ]
            )
            text = "\n\n".join(part for part in (text, *extra) if part)
        if not text:
            raise ModelUnavailable("the model returned an empty reply")
        return text

    def _reveals_internals(self, text: str) -> bool:
        """The reply quotes the system prompt's instructions or holds a configured secret."""
        folded = " ".join(text.split()).casefold()
        if any(fragment in folded for fragment in _PROMPT_FRAGMENTS):
            return True
        settings = self._settings
        secrets = (
            openai_api_key(settings),
            settings.whatsapp_app_secret,
            settings.whatsapp_verify_token,
            settings.whatsapp_access_token,
        )
        return any(s and len(s) >= 8 and s != NO_KEY_NEEDED and s in text for s in secrets)

    @staticmethod
    def _claims_unmade_booking(text: str) -> bool:
        """The reply says "you are booked" without naming a booking code. Called after
        `_names_unknown_code`, so a code it names is one of the customer's: a recap of an
        existing booking is true."""
        if not _CLAIMS_BOOKED.search(text):
            return False
        return not any(looks_like_code(c) for c in _CODE_LIKE.findall(text))

    def _names_unknown_code(self, ctx: ToolContext, text: str) -> bool:
        known = ctx.known_codes()
        for call in ctx.calls:
            for booking in call["result"].get("bookings", ()):
                known.add(booking["code"])
        for candidate in _CODE_LIKE.findall(text):
            if candidate in known or not looks_like_code(candidate):
                continue
            try:
                ctx.desk.find(candidate)
            except BookingNotFound:
                return True
            known.add(candidate)
        return False
