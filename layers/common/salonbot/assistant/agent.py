"""The LLM agent: OpenAI chat completions with tools over the booking core.

One customer message is one turn: the system prompt, the conversation's recent history
and the message go to the model; tool calls (parallel ones too) run against the database
inside the caller's transaction and their results go back; the loop ends with a text
reply or after `assistant_max_model_calls` calls (the last one may not call tools).

Before every model call the estimated cost is reserved with the spend guard (which may
refuse: `BudgetExceeded`), after it the reservation is reconciled to the reported usage,
and released when the call failed. Transient failures (429, 5xx, timeouts, connection
errors) are retried with backoff inside the turn's deadline; what still fails raises
`ModelUnavailable`, unless bookings already changed this turn: then the reply is
composed from what the database accepted, so a booking is never made silently. Anything
unexpected (a response shape the code does not know, a bug) raises `ModelUnavailable`
too, so the fallback answers instead of the message being retried into the same failure;
only the database's transient errors propagate as they are (`salonbot.db.transient`)."""

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
from salonbot.assistant.language import detect_language
from salonbot.assistant.prompt import RULES, build_system_prompt
from salonbot.assistant.tools import TOOL_SPECS, ToolContext, run_tool
from salonbot.booking.codes import ALPHABET, LENGTH, looks_like_code
from salonbot.booking.desk import PostgresDesk
from salonbot.clean_text import clean_text
from salonbot.conversation import store as conversations
from salonbot.cost.guard_protocol import UnlimitedSpend
from salonbot.cost.pricing import price_for
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
    from salonbot.db.connection import Connection

# A compatible server reached through OPENAI_BASE_URL may need no key; the SDK wants one.
NO_KEY_NEEDED = "not-needed"
# Longest wait a Retry-After header may impose inside a turn.
MAX_RETRY_AFTER_S = 10.0
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

    def add(self, response: ChatCompletion, model: str, estimate: Decimal) -> Decimal:
        """Count one answered call; one that reports no usage costs its `estimate`."""
        usage = response.usage
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        details = usage.prompt_tokens_details if usage else None
        cached = (details.cached_tokens or 0) if details else 0
        if usage is None:
            logger.warning("model response without usage: counted at its estimate")
            cost = estimate
        else:
            cost = price_for(model).cost(prompt, completion, cached)
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
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def _retry_after_s(exc: Exception) -> float | None:
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value:
            try:
                return min(float(value) / divisor, MAX_RETRY_AFTER_S)
            except ValueError:
                continue
    return None


def _history_message(entry: conversations.HistoryEntry) -> dict[str, Any]:
    if entry.role == "staff":
        return {"role": "assistant", "content": f"(staff) {entry.content}"}
    return {"role": entry.role, "content": entry.content}


def _tool_call_message(message: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ],
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

    # -- the turn ---------------------------------------------------------------------------

    def respond(self, conn: Connection, turn: TurnInput) -> TurnResult:
        deadline = model_deadline(time.monotonic() + self._settings.assistant_deadline_s)
        now = self._clock().astimezone(turn.salon.tz)
        language = detect_language(turn.text, turn.default_language)
        ctx = ToolContext(
            desk=PostgresDesk(conn, turn.salon, turn.phone, now),
            language=language,
            message_id=turn.message_id,
            client_name=turn.contact_name,
        )
        messages = self._opening(conn, turn, now)
        usage = Usage()
        model = self.model_for(turn)
        guardrails: list[str] = []
        text = ""
        try:
            try:
                text = self._loop(turn, ctx, messages, usage, deadline)
            except (ModelUnavailable, SalonbotError) as exc:
                if not (ctx.changed_bookings or ctx.handoff):
                    raise
                # Bookings changed before the model failed: say what the database accepted.
                logger.warning("model failed after tool effects", extra={"error": str(exc)})
                text = ""
            text = self._checked_reply(ctx, text, language, guardrails)
        except ModelUnavailable as exc:
            exc.usage = usage
            exc.model = model
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
            failure.model = model
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
            model=model,
            model_calls=usage.calls,
            booking_code=booking.code if booking else None,
            handoff=ctx.handoff,
            notes=[
                *(f"guardrail: {kind}" for kind in guardrails),
                *([f"handoff: {ctx.handoff_reason}"] if ctx.handoff_reason else []),
            ],
            tool_calls=ctx.calls,
        )

    def _opening(self, conn: Connection, turn: TurnInput, now: dt.datetime) -> list[dict[str, Any]]:
        history = conversations.history(
            conn, turn.conversation_id, limit=self._history_limit, token_budget=self._history_budget
        )
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self._prompt_builder(turn.salon, now)},
            *(_history_message(entry) for entry in history),
        ]
        # The processor stores the customer's message before the turn; a direct caller may not.
        if not history or history[-1] != conversations.HistoryEntry("user", turn.text):
            messages.append({"role": "user", "content": turn.text})
        return messages

    def _loop(
        self,
        turn: TurnInput,
        ctx: ToolContext,
        messages: list[dict[str, Any]],
        usage: Usage,
        deadline: float,
    ) -> str:
        max_calls = self._settings.assistant_max_model_calls
        for call in range(max_calls):
            final = call == max_calls - 1
            response = self._complete(turn, messages, usage, deadline, tools_allowed=not final)
            if not response.choices:
                raise ModelUnavailable("the model returned no choices")
            message = response.choices[0].message
            if message.tool_calls and not final:
                messages.append(_tool_call_message(message))
                for tool_call in message.tool_calls:
                    function = getattr(tool_call, "function", None)
                    if function is None:
                        result: dict[str, Any] = {"ok": False, "error": "unknown_tool"}
                    else:
                        result = run_tool(ctx, function.name, function.arguments)
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": tool_call.id,
                            "content": _compact_json(result),
                        }
                    )
                continue
            # Cleaned like every text taken in: the reply must be stored to be sent.
            return clean_text(message.content or "").strip()
        raise ModelUnavailable("no reply within the model call limit")  # pragma: no cover

    # -- one model call ---------------------------------------------------------------------

    def model_for(self, turn: TurnInput) -> str:
        """The conversation's experiment arm's model, else OPENAI_MODEL."""
        arm = turn.experiment_arm
        return arm.model if arm is not None else self.model

    def _temperature_for(self, turn: TurnInput) -> float:
        arm = turn.experiment_arm
        if arm is not None and arm.temperature is not None:
            return arm.temperature
        return self._settings.openai_temperature

    def _estimate(self, messages: list[dict[str, Any]], model: str) -> Decimal:
        """An upper bound of the call's cost: every byte of the request a prompt token,
        `max_tokens` of completion, at `model`'s price."""
        size = len(_compact_json(messages).encode()) + len(_compact_json(self._tools).encode())
        prompt_tokens = size + REQUEST_OVERHEAD_TOKENS
        return price_for(model).cost(prompt_tokens, self._settings.openai_max_tokens)

    def _complete(
        self,
        turn: TurnInput,
        messages: list[dict[str, Any]],
        usage: Usage,
        deadline: float,
        *,
        tools_allowed: bool,
    ) -> ChatCompletion:
        import openai

        settings = self._settings
        model = self.model_for(turn)
        estimate = self._estimate(messages, model)
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
                    model=model,
                    messages=messages,
                    tools=self._tools,
                    tool_choice="auto" if tools_allowed else "none",
                    parallel_tool_calls=True,
                    max_tokens=settings.openai_max_tokens,
                    temperature=self._temperature_for(turn),
                    timeout=min(settings.openai_timeout_s, remaining),
                )
            except (openai.OpenAIError, ModelUnavailable, ValueError) as exc:
                # ValueError: a 200 whose body is not JSON (a proxy's error page), not retried.
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
            cost = usage.add(response, model, estimate)
            # The call is paid for and answered: a guard failure now must not cost the
            # answer (a retried message would pay for a second call).
            self._settle(self._guard.reconcile, reservation, cost)
            return response

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
            return hinted
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
