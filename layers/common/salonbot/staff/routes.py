"""The staff API (`/api/v1/staff/...`, Powertools `APIGatewayHttpResolver`), used by the
console and by scripts.

API Gateway's `StaffCognito` authorizer lets only the console client's access tokens
through (401 otherwise); every route then reads the staff member from the claims
(`identity.staff_member`) and acts only on their salons: a conversation or booking of
another salon, or a `salon_id` they do not work for, is 403 before anything is read or
changed. A user of several salons names the salon with `salon_id`. Bodies and queries are
validated by pydantic (422, every field named); errors are the AI API's JSON shape
(`salonbot.api.routes`). Every POST honours `Idempotency-Key`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.shared.json_encoder import Encoder
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from salonbot.api import routes as api_routes
from salonbot.api.auth import jwt_claims
from salonbot.api.body import load_json_body
from salonbot.clean_text import clean_text
from salonbot.config import get_settings
from salonbot.errors import (
    BookingLimitReached,
    Forbidden,
    InvalidInput,
    NotFound,
    RequestInProgress,
    SlotTaken,
    SlotUnavailable,
    Unauthenticated,
)
from salonbot.observability import logger
from salonbot.outbound.window import OutsideWindow
from salonbot.staff import idempotency
from salonbot.staff.calendar import BookingStateConflict
from salonbot.staff.followups import CustomerOptedOut, TemplateNotApproved
from salonbot.staff.identity import StaffMember, staff_member
from salonbot.whatsapp.client import SendFailed

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection

PREFIX = "/api/v1/staff"
MAX_REPLY_CHARS = 4096
JSON_UTF8 = api_routes.JSON_UTF8

app = APIGatewayHttpResolver(
    enable_validation=True,
    json_body_deserializer=load_json_body,
    serializer=partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder),
)
app.configure_openapi(
    title="salonbot staff API",
    version="1.0.0",
    description="The salon's side: inbox, replies, the day's calendar and figures.",
    security_schemes={
        "staff": HTTPBearer(
            description=(
                "A Cognito access token of the staff user pool's console client, checked by "
                "the API Gateway authorizer `StaffCognito`. Its groups say which salons the "
                "user works for (`salon:<id>`) and whether they own them (`owner`); another "
                "salon's data is 403, no token 401. Locally: `salonbot staff login`."
            ),
            bearerFormat="JWT",
        )
    },
)
app.use(middlewares=[api_routes._utf8_json])
STAFF: list[dict[str, list[str]]] = [{"staff": []}]


def current_staff() -> StaffMember:
    return staff_member(jwt_claims(app.current_event.raw_event))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def _transaction() -> Iterator[Connection]:
    """One transaction per request: an error anywhere rolls back all it did (the claim of
    its Idempotency-Key too)."""
    from salonbot.db.connection import autocommit, get_connection

    with autocommit(get_connection()) as conn, conn.transaction():
        yield conn


def _salon(conn: Connection, salon_id: uuid.UUID) -> Salon:
    from salonbot.booking.catalog import load_salon

    return load_salon(conn, salon_id)


def _json(model: type[BaseModel], description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


class ErrorResponse(BaseModel):
    statusCode: int
    message: str


ERRORS: dict[int, OpenAPIResponse] = {
    401: _json(ErrorResponse, "no valid staff token"),
    403: _json(ErrorResponse, "the user does not work for this salon"),
    422: _json(ErrorResponse, "invalid request; `detail` names every field"),
}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        max_length=257,
        pattern=r"^[!-~]+$",
        description="makes a retry safe: the same key (for the same salon) gets the first "
        "answer and nothing is sent or booked twice; the key with another body is a 422",
    ),
]
SalonQuery = Annotated[
    uuid.UUID | None,
    Query(description="the salon (needed only for a user of several salons)"),
]


# -- models -------------------------------------------------------------------------------


class Me(BaseModel):
    email: str | None
    role: Literal["staff", "owner"]
    salons: list[str]


class ConversationItem(BaseModel):
    id: str = Field(description="the conversation id")
    salon_id: str
    phone: str = Field(description="the customer's number, masked to its last 4 digits")
    customer_name: str | None
    status: str = Field(description="active (the bot answers) or handoff (staff answer)")
    waiting: bool
    handoff_until: str | None
    last_message: str
    last_message_role: str | None = Field(description="user, assistant or staff")
    last_message_at: str


class Inbox(BaseModel):
    waiting: int = Field(description="conversations waiting for a person")
    items: list[ConversationItem]


class Message(BaseModel):
    id: int
    role: Literal["user", "assistant", "staff"]
    text: str
    at: str
    staff_user: str | None = None
    delivery: str | None = Field(
        default=None, description="sent, delivered, read or failed; messages we sent"
    )


class TemplateOffer(BaseModel):
    name: str
    language: str
    category: str = Field(description="utility or marketing: what WhatsApp bills it as")
    body: str | None


class Thread(BaseModel):
    conversation: ConversationItem
    window_open: bool = Field(description="free text reaches the customer now")
    window_closes_at: str | None
    messages: list[Message]
    templates: list[TemplateOffer] = Field(
        description="the salon's approved `staff_followup` templates, sendable outside the window"
    )


class TemplateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)

    @field_validator("text")
    @classmethod
    def _clean(cls, value: str) -> str:
        cleaned = clean_text(value).strip()
        if not cleaned:
            raise ValueError("must hold text")
        return cleaned


class ReplyResponse(BaseModel):
    id: int
    whatsapp_message_id: str
    conversation_id: str
    handoff_until: str
    at: str


class Released(BaseModel):
    conversation_id: str
    status: Literal["active"]


class BookingItem(BaseModel):
    code: str
    status: str = Field(description="confirmed, arrived, no_show, cancelled or completed")
    service: str
    service_name: str
    master: str
    master_name: str
    phone: str
    customer_name: str | None
    starts_at: str
    ends_at: str
    price: str
    source: str


class DayBookings(BaseModel):
    salon_id: str
    date: str
    bookings: list[BookingItem]


LOCAL_TIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}$"


class WalkInRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service: str = Field(min_length=1, max_length=64, description="service code")
    start: str = Field(pattern=LOCAL_TIME, description="the salon's local time, YYYY-MM-DD HH:MM")
    master: str | None = Field(default=None, max_length=64, description="master code")
    phone: str = Field(max_length=32, description="the customer's number, E.164")
    name: str | None = Field(default=None, max_length=120)
    salon_id: uuid.UUID | None = None

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        from salonbot.booking.store import normalize_phone

        try:
            return normalize_phone(value)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None


class BookingChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["arrived", "no_show", "cancelled"] | None = None
    start: str | None = Field(default=None, pattern=LOCAL_TIME)
    master: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_change(self) -> BookingChange:
        if (self.status is None) == (self.start is None):
            raise ValueError("give either status, or start (with an optional master)")
        if self.status is not None and self.master is not None:
            raise ValueError("master goes with start, not with status")
        return self


class DayFiguresModel(BaseModel):
    day: str
    spend_usd: float
    budget_usd: float
    conversations: int
    conversations_with_booking: int
    conversion: float
    bookings: int
    replies: int
    zero_token_replies: int
    zero_token_share: float
    no_shows: int


class Metrics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    salon_id: str
    since: str = Field(alias="from")
    until: str = Field(alias="to")
    days: list[DayFiguresModel]


# -- views of the domain objects ----------------------------------------------------------


def _conversation(item: Any) -> ConversationItem:
    from salonbot.processing.staff import phone_tail

    return ConversationItem(
        id=item.id,
        salon_id=str(item.salon_id),
        phone=phone_tail(item.phone),
        customer_name=item.customer_name,
        status=item.status,
        waiting=item.waiting,
        handoff_until=item.handoff_until.isoformat() if item.handoff_until else None,
        last_message=item.last_message,
        last_message_role=item.last_message_role,
        last_message_at=item.last_message_at.isoformat(),
    )


def _local_time(salon: Salon, text: str, field: str) -> dt.datetime:
    try:
        naive = dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise InvalidInput("must be YYYY-MM-DD HH:MM", field=field) from None
    return naive.replace(tzinfo=salon.tz)


def _replayed(claimed: idempotency.Claim) -> Response[Any] | None:
    if claimed.replay is None:
        return None
    status, body = claimed.replay
    return Response(
        status_code=status,
        content_type=JSON_UTF8,
        body=body,
        headers={"Idempotent-Replayed": "true"},
    )


# -- routes -------------------------------------------------------------------------------


@app.get(f"{PREFIX}/me", summary="Who is signed in", security=STAFF, responses=ERRORS)
def get_me() -> Me:
    member = current_staff()
    return Me(
        email=member.username,
        role="owner" if member.is_owner else "staff",
        salons=sorted(str(s) for s in member.salons),
    )


@app.get(
    f"{PREFIX}/conversations",
    summary="Conversations that wait for a person (or all), newest first",
    security=STAFF,
    responses=ERRORS,
)
def get_conversations(
    status: Annotated[Literal["waiting", "all"], Query()] = "waiting",
    salon_id: SalonQuery = None,
) -> Inbox:
    from salonbot.staff.inbox import inbox, waiting_count

    member = current_staff()
    salon = member.salon_for(salon_id)
    now = _now()
    with _transaction() as conn:
        items = inbox(conn, salon, waiting_only=status == "waiting", now=now)
        count = waiting_count(conn, salon, now=now, listed=items if status == "waiting" else None)
    return Inbox(waiting=count, items=[_conversation(i) for i in items])


def _conversation_salon(conn: Connection, member: StaffMember, conversation_id: str) -> uuid.UUID:
    from salonbot.staff.inbox import conversation_salon

    return member.salon_for(conversation_salon(conn, conversation_id))


@app.get(
    f"{PREFIX}/conversations/<conversation_id>/messages",
    summary="A conversation's thread: customer, bot and staff messages",
    security=STAFF,
    responses={**ERRORS, 404: _json(ErrorResponse, "no such conversation")},
)
def get_thread(conversation_id: Annotated[str, Path(max_length=200)]) -> Thread:
    from salonbot.outbound import window
    from salonbot.staff.followups import offered
    from salonbot.staff.inbox import conversation_item, thread

    member = current_staff()
    now = _now()
    with _transaction() as conn:
        salon = _conversation_salon(conn, member, conversation_id)
        item = conversation_item(conn, salon, conversation_id, now=now)
        messages = thread(conn, conversation_id)
        last = window.last_inbound_at(conn, conversation_id)
        offers = offered(conn, salon)
    closes = window.closes_at(last)
    return Thread(
        conversation=_conversation(item),
        window_open=window.is_open(last, now),
        window_closes_at=closes.isoformat() if closes else None,
        messages=[
            Message(
                id=m.id,
                role=m.role,
                text=m.text,
                at=m.at.isoformat(),
                staff_user=m.staff_user,
                delivery=m.delivery,
            )
            for m in messages
        ],
        templates=[
            TemplateOffer(name=t.name, language=t.language, category=t.category, body=t.body)
            for t in offers
        ],
    )


@app.post(
    f"{PREFIX}/conversations/<conversation_id>/messages",
    summary="Answer the customer on WhatsApp as the salon",
    description="Sent as text inside WhatsApp's 24-hour customer-service window, stored as "
    "a staff message, and the conversation stays with staff for HANDOFF_MINUTES from now. "
    "Outside the window nothing is sent: 409 with the reason.",
    security=STAFF,
    responses={
        201: _json(ReplyResponse, "sent"),
        **ERRORS,
        404: _json(ErrorResponse, "no such conversation"),
        409: _json(ErrorResponse, "outside the 24-hour window, or the key's first request runs"),
        502: _json(ErrorResponse, "WhatsApp refused or did not answer; nothing was stored"),
    },
)
def post_reply(
    conversation_id: Annotated[str, Path(max_length=200)],
    request: ReplyRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    from salonbot.staff.replies import send_staff_reply

    member = current_staff()
    settings = get_settings()
    now = _now()
    with _transaction() as conn:
        salon_id = _conversation_salon(conn, member, conversation_id)
        claimed = idempotency.claim(
            conn,
            salon_id,
            idempotency_key,
            idempotency.fingerprint(f"reply {conversation_id}", request.model_dump()),
        )
        if (replay := _replayed(claimed)) is not None:
            return replay
        sent = send_staff_reply(
            conn,
            _salon(conn, salon_id),
            conversation_id,
            request.text,
            staff_user=member.username or member.subject,
            handoff=dt.timedelta(minutes=settings.handoff_minutes),
            send=whatsapp_sender(),
            now=now,
        )
        body = ReplyResponse.model_validate(sent.as_dict()).model_dump()
        idempotency.remember(conn, salon_id, claimed, HTTPStatus.CREATED, body)
    return Response(status_code=HTTPStatus.CREATED, content_type=JSON_UTF8, body=body)


@app.post(
    f"{PREFIX}/conversations/<conversation_id>/templates",
    summary="Send the customer one of the salon's approved templates",
    description="For outside WhatsApp's 24-hour window, where free text is refused: one of "
    "the salon's approved `staff_followup` templates (named in the thread's `templates`), "
    "sent and priced like the salon's other templates, stored as a staff message; the "
    "conversation stays with staff for HANDOFF_MINUTES from now. A template Meta has not "
    "approved is 409 with its status; one that is not a follow-up or needs a booking's "
    "details is 422 on `name`.",
    security=STAFF,
    responses={
        201: _json(ReplyResponse, "sent"),
        **ERRORS,
        404: _json(ErrorResponse, "no such conversation"),
        409: _json(
            ErrorResponse,
            "the template is not approved, the customer opted out, or the key's first request runs",
        ),
        502: _json(ErrorResponse, "WhatsApp refused or did not answer; nothing was stored"),
    },
)
def post_template(
    conversation_id: Annotated[str, Path(max_length=200)],
    request: TemplateRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    from salonbot.staff.followups import send_followup

    member = current_staff()
    settings = get_settings()
    now = _now()
    with _transaction() as conn:
        salon_id = _conversation_salon(conn, member, conversation_id)
        claimed = idempotency.claim(
            conn,
            salon_id,
            idempotency_key,
            idempotency.fingerprint(f"template {conversation_id}", request.model_dump()),
        )
        if (replay := _replayed(claimed)) is not None:
            return replay
        sent = send_followup(
            conn,
            _salon(conn, salon_id),
            conversation_id,
            name=request.name,
            language=request.language,
            staff_user=member.username or member.subject,
            handoff=dt.timedelta(minutes=settings.handoff_minutes),
            send=whatsapp_payload_sender(),
            now=now,
        )
        body = ReplyResponse.model_validate(sent.as_dict()).model_dump()
        idempotency.remember(conn, salon_id, claimed, HTTPStatus.CREATED, body)
    return Response(status_code=HTTPStatus.CREATED, content_type=JSON_UTF8, body=body)


@app.post(
    f"{PREFIX}/conversations/<conversation_id>/release",
    summary="Return the conversation to the bot",
    security=STAFF,
    responses={**ERRORS, 404: _json(ErrorResponse, "no such conversation")},
)
def post_release(
    conversation_id: Annotated[str, Path(max_length=200)],
    idempotency_key: IdempotencyKey = None,
) -> Response[Any]:
    from salonbot.staff.handoff import return_to_bot

    member = current_staff()
    with _transaction() as conn:
        salon_id = _conversation_salon(conn, member, conversation_id)
        claimed = idempotency.claim(
            conn,
            salon_id,
            idempotency_key,
            idempotency.fingerprint(f"release {conversation_id}", {}),
        )
        if (replay := _replayed(claimed)) is not None:
            return replay
        return_to_bot(conn, conversation_id, now=_now())
        body = Released(conversation_id=conversation_id, status="active").model_dump()
        idempotency.remember(conn, salon_id, claimed, HTTPStatus.OK, body)
    return Response(status_code=HTTPStatus.OK, content_type=JSON_UTF8, body=body)


@app.get(
    f"{PREFIX}/bookings",
    summary="The bookings of a day (the salon's local date), per master",
    security=STAFF,
    responses=ERRORS,
)
def get_bookings(
    date: Annotated[dt.date, Query(description="YYYY-MM-DD, the salon's local day")],
    master: Annotated[str | None, Query(max_length=64, description="master code")] = None,
    salon_id: SalonQuery = None,
) -> DayBookings:
    from salonbot.staff.calendar import day_bookings

    member = current_staff()
    salon_key = member.salon_for(salon_id)
    with _transaction() as conn:
        salon = _salon(conn, salon_key)
        found = day_bookings(conn, salon, date, master_code=master)
    return DayBookings(
        salon_id=str(salon.id),
        date=date.isoformat(),
        bookings=[BookingItem.model_validate(b.as_dict()) for b in found],
    )


@app.post(
    f"{PREFIX}/bookings",
    summary="Book for a walk-in or phone customer",
    description="Checked by the same rules and database constraints as a customer's own "
    "booking: working hours, notice, the customer's limit and calendar, free masters.",
    security=STAFF,
    responses={
        201: _json(BookingItem, "booked"),
        **ERRORS,
        404: _json(ErrorResponse, "unknown service or master"),
        409: _json(ErrorResponse, "the time is taken or not bookable"),
    },
)
def post_booking(request: WalkInRequest, idempotency_key: IdempotencyKey = None) -> Response[Any]:
    from salonbot.staff.calendar import book_walk_in

    member = current_staff()
    salon_key = member.salon_for(request.salon_id)
    with _transaction() as conn:
        claimed = idempotency.claim(
            conn,
            salon_key,
            idempotency_key,
            idempotency.fingerprint("booking", request.model_dump(mode="json")),
        )
        if (replay := _replayed(claimed)) is not None:
            return replay
        salon = _salon(conn, salon_key)
        booking = book_walk_in(
            conn,
            salon,
            phone=request.phone,
            service_code=request.service,
            starts_at=_local_time(salon, request.start, "start"),
            master_code=request.master,
            name=request.name,
            now=_now(),
        )
        body = BookingItem.model_validate(booking.as_dict()).model_dump()
        idempotency.remember(conn, salon_key, claimed, HTTPStatus.CREATED, body)
    return Response(status_code=HTTPStatus.CREATED, content_type=JSON_UTF8, body=body)


@app.patch(
    f"{PREFIX}/bookings/<code>",
    summary="Move a booking, cancel it, or mark the customer arrived or not come",
    security=STAFF,
    responses={
        **ERRORS,
        404: _json(ErrorResponse, "no such booking"),
        409: _json(ErrorResponse, "the new time is taken or not bookable, or the state refuses"),
    },
)
def patch_booking(code: Annotated[str, Path(max_length=32)], change: BookingChange) -> BookingItem:
    from salonbot.staff import calendar

    member = current_staff()
    now = _now()
    with _transaction() as conn:
        salon_key = member.salon_for(_booking_salon(conn, code))
        salon = _salon(conn, salon_key)
        if change.status is not None:
            booking = calendar.mark(conn, salon, code, change.status, now=now)
        else:
            assert change.start is not None
            booking = calendar.move(
                conn,
                salon,
                code,
                starts_at=_local_time(salon, change.start, "start"),
                master_code=change.master,
                now=now,
            )
    return BookingItem.model_validate(booking.as_dict())


def _booking_salon(conn: Connection, code: str) -> uuid.UUID:
    from salonbot.booking.codes import normalize_booking_code
    from salonbot.errors import BookingNotFound

    row = conn.execute(
        "SELECT salon_id FROM bookings WHERE code = %s", (normalize_booking_code(code),)
    ).fetchone()
    if row is None:
        raise BookingNotFound(f"no booking {normalize_booking_code(code)!r}")
    found: uuid.UUID = row["salon_id"]
    return found


@app.get(
    f"{PREFIX}/metrics",
    summary="The figures behind the console's charts, per local day",
    security=STAFF,
    responses=ERRORS,
)
def get_metrics(
    since: Annotated[dt.date | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    until: Annotated[dt.date | None, Query(alias="to", description="YYYY-MM-DD, included")] = None,
    salon_id: SalonQuery = None,
) -> Metrics:
    from salonbot.staff.metrics import daily_figures

    member = current_staff()
    salon_key = member.salon_for(salon_id)
    with _transaction() as conn:
        salon = _salon(conn, salon_key)
        last = until or _now().astimezone(salon.tz).date()
        first = since or last - dt.timedelta(days=29)
        days = daily_figures(conn, salon, first, last)
    return Metrics(
        salon_id=str(salon.id),
        since=first.isoformat(),
        until=last.isoformat(),
        days=[DayFiguresModel.model_validate(d.as_dict()) for d in days],
    )


class SalonFileUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(
        min_length=1, max_length=512_000, description="the salon file's text, YAML or JSON"
    )
    salon_id: uuid.UUID | None = None


class SalonImported(BaseModel):
    salon_id: str
    revision: int
    services: int
    masters: int


@app.post(
    f"{PREFIX}/salon-file",
    summary="Replace the salon's file (owner only), validated like `salonbot salon import`",
    description="Unknown keys and bad values are refused before anything changes, with the "
    "field named (`detail[0].field`, e.g. `services[0].duration_minutes`). The file's `id`, "
    "when it has one, must be this salon's.",
    security=STAFF,
    responses={201: _json(SalonImported, "imported"), **ERRORS},
)
def post_salon_file(
    request: SalonFileUpload, idempotency_key: IdempotencyKey = None
) -> Response[Any]:
    import yaml

    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import validate_salon

    member = current_staff()
    salon_key = member.salon_for(request.salon_id)
    member.require_owner()
    try:
        data = yaml.safe_load(request.content)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML or JSON: {exc}", field="file") from None
    if isinstance(data, dict):
        if data.get("id") is not None and str(data["id"]) != str(salon_key):
            raise InvalidInput("must be this salon's id, or left out", field="id")
        data = {**data, "id": str(salon_key)}
    salon_file = validate_salon(data)  # refused here, before anything is written
    with _transaction() as conn:
        claimed = idempotency.claim(
            conn, salon_key, idempotency_key, idempotency.fingerprint("salon-file", request.content)
        )
        if (replay := _replayed(claimed)) is not None:
            return replay
        imported = import_salon(conn, salon_file)
        body = SalonImported(
            salon_id=str(imported.salon_id),
            revision=imported.revision,
            services=imported.services,
            masters=imported.masters,
        ).model_dump()
        idempotency.remember(conn, salon_key, claimed, HTTPStatus.CREATED, body)
    return Response(status_code=HTTPStatus.CREATED, content_type=JSON_UTF8, body=body)


def whatsapp_sender() -> Callable[[str, str, Any], str]:
    from salonbot.whatsapp.client import WhatsAppClient

    client = WhatsAppClient(get_settings())
    return client.send


def whatsapp_payload_sender() -> Callable[[str, dict[str, Any]], str]:
    from salonbot.whatsapp.client import WhatsAppClient

    client = WhatsAppClient(get_settings())
    return client.send_payload


# -- errors -------------------------------------------------------------------------------

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def _handles(exc_class: type[Exception]) -> Callable[[_Handler], _Handler]:
    return cast("Callable[[_Handler], _Handler]", app.exception_handler(exc_class))


def _error(status: HTTPStatus, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=JSON_UTF8,
        body={"statusCode": int(status), "message": message, **extra},
    )


# The AI API's answers to bad requests, missing or refused tokens and racing keys.
for _exc, _handler in (
    (RequestValidationError, api_routes.invalid_request),
    (InvalidInput, api_routes.invalid_input),
    (Unauthenticated, api_routes.unauthenticated),
    (Forbidden, api_routes.forbidden),
    (RequestInProgress, api_routes.in_progress),
    (UnicodeDecodeError, api_routes.undecodable_body),
    (ServiceError, api_routes.service_error),
):
    app.exception_handler(_exc)(_handler)


@_handles(NotFound)
def not_found_entity(exc: NotFound) -> Response[Any]:
    return _error(HTTPStatus.NOT_FOUND, f"Not found: {exc}")


@_handles(OutsideWindow)
def outside_window(exc: OutsideWindow) -> Response[Any]:
    return _error(HTTPStatus.CONFLICT, f"Conflict: {exc.reason}", reason="outside_window")


@_handles(TemplateNotApproved)
def template_not_approved(exc: TemplateNotApproved) -> Response[Any]:
    return _error(HTTPStatus.CONFLICT, f"Conflict: {exc.reason}", reason="template_not_approved")


@_handles(CustomerOptedOut)
def customer_opted_out(exc: CustomerOptedOut) -> Response[Any]:
    return _error(HTTPStatus.CONFLICT, f"Conflict: {exc.reason}", reason="opted_out")


@_handles(SlotTaken)
def slot_taken(exc: SlotTaken) -> Response[Any]:
    return _error(HTTPStatus.CONFLICT, f"Conflict: {exc}", reason="slot_taken")


@_handles(SlotUnavailable)
def slot_unavailable(exc: SlotUnavailable) -> Response[Any]:
    return _error(HTTPStatus.CONFLICT, f"Conflict: {exc}", reason="not_bookable")


@_handles(BookingLimitReached)
def limit_reached(exc: BookingLimitReached) -> Response[Any]:
    return _error(HTTPStatus.CONFLICT, f"Conflict: {exc}", reason="booking_limit")


@_handles(BookingStateConflict)
def state_conflict(exc: BookingStateConflict) -> Response[Any]:
    return _error(HTTPStatus.CONFLICT, f"Conflict: {exc.detail}", reason="booking_state")


def _send_failed(exc: Exception) -> Response[Any]:
    logger.warning("staff reply not sent", extra={"error": type(exc).__name__})
    return _error(HTTPStatus.BAD_GATEWAY, "WhatsApp did not take the message; nothing was stored")


app.exception_handler(SendFailed)(_send_failed)


@_handles(NotFoundError)
def no_route(exc: NotFoundError) -> Response[Any]:
    return _error(HTTPStatus.NOT_FOUND, f"Not found: {app.current_event.path}")


@_handles(Exception)
def internal_error(exc: Exception) -> Response[Any]:
    logger.exception("request failed", extra={"path": app.current_event.path})
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")
