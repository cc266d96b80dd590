"""The routes of the AI API (Powertools `APIGatewayHttpResolver`, payload format 2.0).

Every route but health checks its caller first (`authorize`: the token's scope and
salon, see `salonbot.api.auth`; 401 without a token, 403 without the scope or for
another salon). A new route does the same with its own scope and the salon it touches.
Request bodies and query strings are validated by pydantic: bad input gets 422 with
every offending field named. Domain errors map to status codes by type; anything else is
logged with its stack trace and answered with a plain 500. Every error body is JSON:
`{"statusCode": ..., "message": ...}` (plus `detail` for 422)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from functools import lru_cache, partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.shared.json_encoder import Encoder
from pydantic import BaseModel, ConfigDict, Field, field_validator

from salonbot.api import idempotency
from salonbot.api.auth import AI_ADMIN, AI_READ, AI_WRITE, Caller, jwt_claims, require
from salonbot.api.body import load_json_body
from salonbot.booking.store import normalize_phone
from salonbot.clean_text import clean_text
from salonbot.config import get_settings
from salonbot.errors import (
    ErasureFailed,
    Forbidden,
    InvalidInput,
    RequestInProgress,
    Unauthenticated,
    UnknownSalon,
)
from salonbot.observability import logger
from salonbot.stats import window_bound

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from salonbot.api.messages import MessageService
    from salonbot.config import Settings

HEALTH = "/api/v1/ai/health"
PROCESS_MESSAGE = "/api/v1/ai/process-message"
STATS = "/api/v1/ai/stats"
CUSTOMER = "/api/v1/ai/customers/<phone>"
STATS_DEFAULT_DAYS = 30
MAX_MESSAGE_CHARS = 4096

# Bodies are UTF-8 JSON as written ("Маникюр", not "\u041c..."), and the header says so.
JSON_UTF8 = "application/json; charset=utf-8"
app = APIGatewayHttpResolver(
    enable_validation=True,
    json_body_deserializer=load_json_body,
    serializer=partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder),
)
app.configure_openapi(
    title="salonbot AI API",
    version="1.0.0",
    description="Health, synchronous assistant turns and usage figures of salonbot.",
    security_schemes={
        "jwt": HTTPBearer(
            description=(
                "A JWT checked by the API Gateway JWT authorizer (signature, issuer, "
                "audience, expiry, the route's scopes). Claims: the salon, `salon_id` (or "
                "the list `salon_ids` for a backend serving several), and the scopes, "
                f"`scope` (space separated): `{AI_WRITE}` process-message, `{AI_READ}` "
                f"stats, `{AI_ADMIN}` erasure. A token without the route's scope, or for "
                "another salon than the request's, gets 403; no token, 401. Locally: "
                "`salonbot token --salon ID --scope SCOPE`."
            ),
            bearerFormat="JWT",
        )
    },
)


def _utf8_json(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route's JSON answer names its charset (the error handlers' do too: `_error`)."""
    response = next_middleware(app)
    if response.headers.get("Content-Type") == content_types.APPLICATION_JSON:
        response.headers["Content-Type"] = JSON_UTF8
    return response


app.use(middlewares=[_utf8_json])


def scoped(scope: str) -> list[dict[str, list[str]]]:
    """A route's OpenAPI security requirement: the JWT with `scope`."""
    return [{"jwt": [scope]}]


def authorize(scope: str, salon_id: uuid.UUID | str | None = None) -> Caller:
    """The caller of the current request, if its token grants `scope` for `salon_id`;
    `Unauthenticated` (401) or `Forbidden` (403) otherwise. First thing in a protected
    route, before it reads or changes anything."""
    return require(jwt_claims(app.current_event.raw_event), scope=scope, salon_id=salon_id)


# -- models -------------------------------------------------------------------------------


class AiSwitchHealth(BaseModel):
    switched_off: bool | None = Field(
        description="model calls stopped for every salon (`salonbot ai off --all`); null "
        "when the database cannot say"
    )
    salons_switched_off: int | None = Field(description="salons switched off on their own")
    since: str | None = Field(default=None, description="when every salon was switched off")


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    service: Literal["ai"]
    timestamp: str
    openai: Literal["connected", "not_configured", "error"]
    model: str
    database: Literal["ok", "error", "not_configured"]
    ai: AiSwitchHealth | None = None
    detail: str | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="what an operator should fix though customers are served, e.g. a "
        "model the price table does not know (priced at the most expensive known rate)",
    )


class ProcessMessageRequest(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    salon_id: uuid.UUID
    phone_number: str = Field(
        max_length=160,
        description="the customer's number, E.164, or their WhatsApp business-scoped user "
        "id when WhatsApp withholds the number",
        examples=["+79001234567", "US.13491208655302741918"],
    )
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    conversation_id: str | None = Field(
        default=None,
        max_length=200,
        description="accepted for compatibility; the turn is stored in the customer's "
        "conversation conv_<salon_id>_<phone digits or user id>, returned as conversation_id",
    )

    @field_validator("message")
    @classmethod
    def _clean(cls, value: str) -> str:
        """NUL and other control characters dropped (a lone surrogate was refused
        already, as the webhook refuses it); a message of nothing else is empty."""
        cleaned = clean_text(value).strip()
        if not cleaned:
            raise ValueError("must hold text, not only control characters")
        return cleaned

    @field_validator("phone_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            return normalize_phone(value)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None


class ProcessMessageResponse(BaseModel):
    response: str | None = Field(
        description="the reply to send the customer; null when the message was left for "
        "the salon's staff (AI off, hand-off)"
    )
    tokens_used: int
    cost: float = Field(description="USD")
    response_time_ms: int
    model: str | None = Field(description="the model that answered; null for the fallback")
    booking_code: str | None = None
    conversation_id: str
    engine: str | None = None
    handled_by: Literal["assistant", "staff", "throttle"]
    throttled: bool = False


class ErrorResponse(BaseModel):
    statusCode: int  # the product's error shape
    message: str
    retry_after_s: int | None = None


class ArmStatsResponse(BaseModel):
    arm: str
    in_salon_file: bool = Field(description="false: an arm removed since, still in the window")
    weight: float | None
    temperature: float | None
    models: list[str] = Field(description="the models that answered the arm's conversations")
    conversations: int
    conversations_with_booking: int
    conversion_rate: float
    conversion_ci95: list[float] = Field(description="95% Wilson interval of conversion_rate")
    bookings: int
    model_replies: int
    prompt_tokens: int
    completion_tokens: int
    tokens_used: int
    cost: float = Field(description="USD")
    cost_per_booking: float | None = Field(description="USD; null without a booking")
    p95_response_time_ms: float | None
    handoffs: int = Field(description="conversations a reply handed to staff")
    model_failures: int = Field(description="replies the fallback wrote as the model failed")
    feedback_rating: float | None = Field(description="mean visit rating 1..5; null: none")
    ratings: int | None


class StatsResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    salon_id: str
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    messages_received: int
    replies: int
    model_replies: int
    conversations: int
    conversations_with_booking: int
    conversion_rate: float
    prompt_tokens: int
    completion_tokens: int
    tokens_used: int
    cost: float = Field(description="USD")
    avg_response_time_ms: float | None
    p95_response_time_ms: float | None
    bookings_created: int
    bookings_by_assistant: int
    bookings_cancelled: int
    messages_sent: int = Field(0, description="WhatsApp messages the salon sent")
    whatsapp_cost: float = Field(0.0, description="USD: what WhatsApp bills for them")
    reminders_sent: int = 0
    bookings_confirmed_by_customer: int = 0
    arms: list[ArmStatsResponse] = Field(
        default_factory=list, description="per arm of the salon's model experiment"
    )
    conversations_from_ads: int = Field(
        default=0, description="conversations that came from a click-to-WhatsApp ad"
    )
    conversations_from_ads_with_booking: int = 0


class ErasureResponse(BaseModel):
    salon_id: str
    phone: str = Field(description="the customer's number, masked")
    postgresql: dict[str, int] = Field(
        description="rows per table and effect: deleted, anonymised, bookings cancelled"
    )
    dynamodb: dict[str, int] = Field(description="items deleted per kind")
    not_configured: list[str] = Field(description="DynamoDB kinds this function has no table for")


class CustomerThrottled(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many messages from this customer")
        self.retry_after_s = retry_after_s


# -- routes -------------------------------------------------------------------------------


def _json(model: type[BaseModel], description: str) -> OpenAPIResponse:
    """A documented response: its description and JSON body model."""
    return {"description": description, "content": {"application/json": {"model": model}}}


# The refusals of every protected route.
AUTH_ERRORS: dict[int, OpenAPIResponse] = {
    401: _json(ErrorResponse, "no valid token"),
    403: _json(ErrorResponse, "the token lacks the route's scope, or is for another salon"),
}


@app.get(
    HEALTH,
    summary="Service health",
    responses={
        200: _json(HealthResponse, "healthy"),
        503: _json(HealthResponse, "degraded: the database is down"),
    },
)
def get_health() -> Response[HealthResponse]:
    from salonbot.api.health import health

    body = health(get_settings())
    return Response(
        status_code=HTTPStatus.OK if body["status"] == "ok" else HTTPStatus.SERVICE_UNAVAILABLE,
        content_type=content_types.APPLICATION_JSON,
        body=HealthResponse.model_validate(body),
    )


@app.post(
    PROCESS_MESSAGE,
    summary="Answer one customer message synchronously",
    security=scoped(AI_WRITE),
    responses={
        200: _json(ProcessMessageResponse, "the reply"),
        **AUTH_ERRORS,
        404: _json(ErrorResponse, "unknown salon"),
        409: _json(ErrorResponse, "the request first sent with this Idempotency-Key is running"),
        422: _json(
            ErrorResponse, "invalid request, or an Idempotency-Key used for another request"
        ),
        429: _json(ErrorResponse, "customer over the per-customer message limit"),
    },
)
def process_message(
    request: ProcessMessageRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            max_length=idempotency.MAX_KEY_LENGTH + 2,  # + the quotes of "key"
            pattern=r"^[!-~]+$",
            description="makes a retry safe: the same key (for the same salon) gets the "
            "first request's answer, and nothing is booked twice; the key with another "
            "body is a 422. Printable ASCII, up to 255 characters",
        ),
    ] = None,
) -> Response[ProcessMessageResponse]:
    authorize(AI_WRITE, request.salon_id)
    done = message_service(get_settings()).process(
        request.salon_id,
        request.phone_number,
        request.message,
        conversation_id=request.conversation_id,
        idempotency_key=idempotency_key,
    )
    if done.throttled and done.response is None:
        raise CustomerThrottled(done.retry_after_s or 1)
    body = ProcessMessageResponse(
        response=done.response,
        tokens_used=done.tokens_used,
        cost=float(done.cost),
        response_time_ms=done.response_time_ms,
        model=done.model,
        booking_code=done.booking_code,
        conversation_id=done.conversation_id,
        engine=done.engine,
        handled_by=done.handled_by,
        throttled=done.throttled,
    )
    headers = {"Idempotent-Replayed": "true"} if done.replayed else None
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=headers,
    )


@app.get(
    STATS,
    summary="A salon's messages, tokens, cost, response times and bookings",
    security=scoped(AI_READ),
    responses={
        200: _json(StatsResponse, "the salon's figures"),
        **AUTH_ERRORS,
        404: _json(ErrorResponse, "unknown salon"),
        422: _json(ErrorResponse, "invalid query"),
    },
)
def get_stats(
    salon_id: Annotated[uuid.UUID, Query()],
    since: Annotated[
        str | None,
        Query(
            alias="from",
            description="YYYY-MM-DD (salon's local day) or ISO time with offset; "
            "default 30 days before `to`",
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            alias="to", description="YYYY-MM-DD (inclusive) or ISO time with offset; default now"
        ),
    ] = None,
) -> StatsResponse:
    from salonbot.db.connection import autocommit, get_connection
    from salonbot.stats import salon_stats

    authorize(AI_READ, salon_id)
    with autocommit(get_connection()) as conn:
        found = conn.execute("SELECT timezone FROM salons WHERE id = %s", (salon_id,)).fetchone()
        if found is None:
            raise UnknownSalon(f"no salon {salon_id}")
        tz = ZoneInfo(found["timezone"])
        end = _bound(until, tz, end=True, field="to") or dt.datetime.now(tz)
        start = _bound(since, tz, end=False, field="from") or end - dt.timedelta(
            days=STATS_DEFAULT_DAYS
        )
        if start >= end:
            raise InvalidInput("must be before `to`", field="from")
        stats = salon_stats(conn, salon_id, start, end)
    return StatsResponse(
        salon_id=stats.salon_id,
        since=stats.since.isoformat(),
        until=stats.until.isoformat(),
        messages_received=stats.messages_received,
        replies=stats.replies,
        model_replies=stats.model_replies,
        conversations=stats.conversations,
        conversations_with_booking=stats.conversations_with_booking,
        conversion_rate=stats.conversion_rate,
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        tokens_used=stats.tokens_used,
        cost=float(stats.cost_usd),
        avg_response_time_ms=stats.avg_response_time_ms,
        p95_response_time_ms=stats.p95_response_time_ms,
        bookings_created=stats.bookings_created,
        bookings_by_assistant=stats.bookings_by_assistant,
        bookings_cancelled=stats.bookings_cancelled,
        messages_sent=stats.messages_sent,
        whatsapp_cost=float(stats.whatsapp_cost_usd),
        reminders_sent=stats.reminders_sent,
        bookings_confirmed_by_customer=stats.bookings_confirmed_by_customer,
        arms=[
            ArmStatsResponse(
                **{
                    **arm.as_dict(),
                    "cost": float(arm.cost_usd),
                    "cost_per_booking": (
                        None
                        if arm.cost_per_booking_usd is None
                        else float(arm.cost_per_booking_usd)
                    ),
                }
            )
            for arm in stats.arms
        ],
        conversations_from_ads=stats.conversations_from_ads,
        conversations_from_ads_with_booking=stats.conversations_from_ads_with_booking,
    )


@app.delete(
    CUSTOMER,
    summary="Erase one customer of a salon (GDPR, 152-FZ): what salonbot stores of them",
    description="Deletes the customer's conversation, messages, processing ledger rows, "
    "delivery statuses and DynamoDB items, and deletes or anonymises their client record "
    "(bookings are kept without the phone; future ones are cancelled). Idempotent. "
    "Needs the `ai:admin` scope.",
    security=scoped(AI_ADMIN),
    responses={
        200: _json(ErasureResponse, "what was removed, per store"),
        **AUTH_ERRORS,
        404: _json(ErrorResponse, "unknown salon"),
        422: _json(ErrorResponse, "invalid phone or salon id"),
        503: _json(ErrorResponse, "a store refused; run it again"),
    },
)
def delete_customer(
    phone: Annotated[
        str,
        Path(description="E.164, URL-encoded (%2B79001234567), or a WhatsApp user id"),
    ],
    salon_id: Annotated[uuid.UUID, Query()],
) -> ErasureResponse:
    from urllib.parse import unquote

    from salonbot.db.connection import autocommit, get_connection
    from salonbot.privacy.customer_items import CustomerItems
    from salonbot.privacy.erasure import forget_customer

    authorize(AI_ADMIN, salon_id)
    customer = normalize_phone(unquote(phone))
    items = CustomerItems.from_settings(get_settings())
    with autocommit(get_connection()) as conn:
        report = forget_customer(conn, salon_id, customer, items=items)
    return ErasureResponse.model_validate(report.as_dict())


def _bound(value: str | None, tz: ZoneInfo, *, end: bool, field: str) -> dt.datetime | None:
    """A salon-local day (`to` includes it) or an ISO time with an offset."""
    if not value:
        return None
    return window_bound(value, tz, end=end, field=field, naive_is_local=False)


@lru_cache(maxsize=4)
def message_service(settings: Settings) -> MessageService:
    """Built once per container (per settings): the router keeps its SDK client."""
    from salonbot.api.messages import MessageService
    from salonbot.assistant.router import build_router
    from salonbot.processing.staff import StaffNotifier

    return MessageService(
        settings,
        assistant=build_router(settings),
        staff=StaffNotifier(
            settings.staff_topic_arn or settings.alert_topic_arn, console_url=settings.console_url
        ),
    )


# -- errors -------------------------------------------------------------------------------

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def _handles(exc_class: type[Exception]) -> Callable[[_Handler], _Handler]:
    """`app.exception_handler`, typed."""
    return cast("Callable[[_Handler], _Handler]", app.exception_handler(exc_class))


def _error(status: HTTPStatus, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=JSON_UTF8,
        body={"statusCode": int(status), "message": message, **extra},
    )


def _field(loc: Any) -> str:
    parts = [str(p) for p in (loc or ()) if p not in ("body", "query", "header")]
    return ".".join(parts) or "body"


@_handles(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response[Any]:
    errors = exc.errors()
    not_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if not_json is not None:
        return _body_not_json(not_json)
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return _body_refused("missing", "the body is empty: a JSON object is expected")
    detail = [
        {
            "loc": list(e.get("loc", ())),
            "field": _field(e.get("loc")),
            "type": e.get("type"),
            "msg": _message(e),
        }
        for e in errors
    ]
    fields = ", ".join(dict.fromkeys(d["field"] for d in detail))
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, f"Invalid request: {fields}", detail=detail)


def _body_not_json(error: dict[str, Any]) -> Response[Any]:
    """A body that does not parse: said in words, with where it breaks (Powertools puts
    the offset in `loc`, which would otherwise read as a field named "1")."""
    position = (error.get("loc") or ())[-1:]
    reason = (error.get("ctx") or {}).get("error") or "JSON decode error"
    where = f" at character {position[0]}" if position and isinstance(position[0], int) else ""
    return _body_refused("json_invalid", f"the body is not valid JSON ({reason}{where})")


def _body_refused(kind: str, msg: str) -> Response[Any]:
    detail = [{"loc": ["body"], "field": "body", "type": kind, "msg": msg}]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, f"Invalid request: {msg}", detail=detail)


def _message(error: dict[str, Any]) -> str:
    """pydantic's message, without the input value it may quote."""
    kind = str(error.get("type", ""))
    if kind == "missing":
        return "Field required"
    message = str(error.get("msg", "")) or kind
    return message.removeprefix("Value error, ")


@_handles(InvalidInput)
def invalid_input(exc: InvalidInput) -> Response[Any]:
    field = exc.field or "body"
    detail = [{"loc": [field], "field": field, "type": "value_error", "msg": exc.detail}]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, f"Invalid request: {exc}", detail=detail)


@_handles(Unauthenticated)
def unauthenticated(exc: Unauthenticated) -> Response[Any]:
    response = _error(HTTPStatus.UNAUTHORIZED, "Unauthorized")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


@_handles(Forbidden)
def forbidden(exc: Forbidden) -> Response[Any]:
    return _error(HTTPStatus.FORBIDDEN, f"Forbidden: {exc}")


@_handles(UnknownSalon)
def unknown_salon(exc: UnknownSalon) -> Response[Any]:
    return _error(HTTPStatus.NOT_FOUND, f"Salon not found: {exc}")


@_handles(RequestInProgress)
def in_progress(exc: RequestInProgress) -> Response[Any]:
    response = _error(HTTPStatus.CONFLICT, f"Conflict: {exc}")
    response.headers["Retry-After"] = "1"
    return response


@_handles(CustomerThrottled)
def throttled(exc: CustomerThrottled) -> Response[Any]:
    response = _error(
        HTTPStatus.TOO_MANY_REQUESTS,
        "Too many messages from this customer; the customer was already told to wait",
        retry_after_s=exc.retry_after_s,
    )
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


@_handles(ErasureFailed)
def erasure_failed(exc: ErasureFailed) -> Response[Any]:
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, "Erasure incomplete; run it again")


@_handles(UnicodeDecodeError)
def undecodable_body(exc: UnicodeDecodeError) -> Response[Any]:
    """A body that is not UTF-8 (API Gateway passes such bodies base64-encoded): the
    caller's mistake, as malformed JSON is."""
    detail = [{"loc": ["body"], "field": "body", "type": "json_invalid", "msg": "not UTF-8"}]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "Invalid request: body", detail=detail)


@_handles(NotFoundError)
def not_found(exc: NotFoundError) -> Response[Any]:
    return _error(HTTPStatus.NOT_FOUND, f"Not found: {app.current_event.path}")


@_handles(ServiceError)
def service_error(exc: ServiceError) -> Response[Any]:
    return _error(HTTPStatus(exc.status_code), str(exc.msg))


@_handles(Exception)
def internal_error(exc: Exception) -> Response[Any]:
    logger.exception("request failed", extra={"path": app.current_event.path})
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")
