"""The console's pages, served by salonbot itself (no CDN, no build step).

Open at the gateway: the shell page `/console/` (the sign-in form, the navigation, an
empty main area), its two assets (`/console/assets/console.js`, `console.css`) and
`POST /console/sign-in` (the user-password flow: the local stack's form; in AWS the shell
page sends staff to the hosted UI, `STAFF_AUTH_DOMAIN`, with PKCE). Everything with data
is behind the Cognito authorizer: the views, HTML fragments at `/api/v1/staff/views/...`
(`salonbot.staff.views`), which the script fetches with the staff token and swaps into
the page, and the staff API that its forms call."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager
from functools import lru_cache
from html import escape
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from salonbot.api.auth import jwt_claims
from salonbot.config import get_settings
from salonbot.staff.identity import StaffMember, staff_member
from salonbot.texts import console_texts

if TYPE_CHECKING:
    from collections.abc import Iterator

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection

router = Router()  # type: ignore[no-untyped-call]
ASSETS = Path(__file__).parent / "assets"
HTML = "text/html; charset=utf-8"
VIEWS = "/api/v1/staff/views"
# The pages and views are the browser's, not the API's: kept out of the OpenAPI document.
HIDDEN: dict[str, Any] = {"include_in_schema": False}
SECURITY_HEADERS = {
    # Inline style attributes place the calendar's blocks (values written here, escaped);
    # no inline script runs.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "connect-src 'self' https://*.amazoncognito.com; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _html(body: str, status: int = HTTPStatus.OK) -> Response[str]:
    return Response(status_code=status, content_type=HTML, body=body, headers=SECURITY_HEADERS)


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def shell_page(language: str, *, hosted_ui: str | None, client_id: str | None) -> str:
    """The page a browser opens: sign-in, navigation, the main area the views fill."""
    t = console_texts(language)
    config = {
        "texts": dict(t),
        "hostedUi": hosted_ui or None,
        "clientId": client_id or None,
        "language": language,
    }
    sign_in = (
        f'<p><a class="button" href="#" data-hosted-ui>{escape(t["sign_in_hosted"])}</a></p>'
        if hosted_ui
        else (
            '<form id="sign-in" method="post" action="/console/sign-in">'
            f'<label for="email">{escape(t["email"])}</label>'
            '<input id="email" name="email" type="email" autocomplete="username" required>'
            f'<label for="password">{escape(t["password"])}</label>'
            '<input id="password" name="password" type="password" '
            'autocomplete="current-password" required>'
            f'<button type="submit">{escape(t["sign_in"])}</button>'
            '<p class="alert" role="alert" id="sign-in-alert"></p></form>'
        )
    )
    nav = "".join(
        f'<li><a href="#{view}" data-nav="{view}">{escape(t["nav_" + view])}</a></li>'
        for view in ("inbox", "calendar", "dashboard", "settings")
    )
    other = "en" if language == "ru" else "ru"
    return (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(t['title'])}</title>"
        '<link rel="stylesheet" href="/console/assets/console.css"></head><body>'
        f'<a class="skip" href="#main">{escape(t["skip"])}</a>'
        f'<header><span class="brand">{escape(t["title"])}</span>'
        f'<nav aria-label="{escape(t["title"])}" hidden id="nav"><ul>{nav}</ul></nav>'
        f'<a href="?lang={other}" class="lang" lang="{other}">{other.upper()}</a>'
        f'<button type="button" id="sign-out" hidden>{escape(t["sign_out"])}</button></header>'
        f'<main id="main" tabindex="-1"><section id="signed-out">'
        f"<h1>{escape(t['sign_in'])}</h1>{sign_in}"
        f"<noscript><p>{escape(t['needs_script'])}</p></noscript></section>"
        '<div id="view" aria-live="polite"></div></main>'
        f'<script id="console-config" type="application/json">{_json_for_html(config)}</script>'
        '<script src="/console/assets/console.js" defer></script></body></html>'
    )


def _json_for_html(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _language(requested: str | None) -> str:
    return requested if requested in ("ru", "en") else "ru"


@router.get("/console", **HIDDEN)
@router.get("/console/", **HIDDEN)
def console_home(lang: Annotated[str | None, Query(max_length=5)] = None) -> Response[str]:
    settings = get_settings()
    return _html(
        shell_page(
            _language(lang),
            hosted_ui=settings.staff_auth_domain,
            client_id=settings.staff_client_id,
        )
    )


@router.get("/console/assets/<name>", **HIDDEN)
def console_asset(name: Annotated[str, PathParam(max_length=40)]) -> Response[str]:
    kinds = {
        "console.js": "text/javascript; charset=utf-8",
        "console.css": "text/css; charset=utf-8",
    }
    if name not in kinds:
        return Response(status_code=HTTPStatus.NOT_FOUND, content_type=HTML, body="not found")
    return Response(
        status_code=HTTPStatus.OK,
        content_type=kinds[name],
        body=_asset(name),
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


class SignIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class SignedIn(BaseModel):
    access_token: str
    expires_in: int


@router.post("/console/sign-in", **HIDDEN)
def console_sign_in(request: SignIn) -> SignedIn:
    from salonbot.staff.sign_in import password_sign_in

    tokens = password_sign_in(get_settings().staff_client_id, request.email, request.password)
    return SignedIn(access_token=tokens.access_token, expires_in=tokens.expires_in)


# -- views (behind the Cognito authorizer) ----------------------------------------------------


def _member() -> StaffMember:
    return staff_member(jwt_claims(router.current_event.raw_event))


@contextmanager
def _conn() -> Iterator[Connection]:
    from salonbot.db.connection import autocommit, get_connection

    with autocommit(get_connection()) as conn, conn.transaction():
        yield conn


def _salon(conn: Connection, member: StaffMember, salon_id: str | None) -> Salon:
    from salonbot.booking.catalog import load_salon

    return load_salon(conn, member.salon_for(salon_id))


def _texts(salon: Salon, lang: str | None) -> Any:
    return console_texts(lang if lang in ("ru", "en") else salon.language)


@router.get(f"{VIEWS}/inbox", **HIDDEN)
def view_inbox(
    status: Annotated[str, Query(pattern="^(waiting|all)$")] = "waiting",
    lang: Annotated[str | None, Query(max_length=5)] = None,
    salon_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response[str]:
    from salonbot.staff.inbox import inbox, waiting_count
    from salonbot.staff.views import inbox_view

    member = _member()
    now = dt.datetime.now(dt.UTC)
    with _conn() as conn:
        salon = _salon(conn, member, salon_id)
        items = inbox(conn, salon.id, waiting_only=status == "waiting", now=now)
        count = waiting_count(
            conn, salon.id, now=now, listed=items if status == "waiting" else None
        )
    return _html(inbox_view(_texts(salon, lang), salon, items, count, showing_all=status == "all"))


@router.get(f"{VIEWS}/thread/<conversation_id>", **HIDDEN)
def view_thread(
    conversation_id: Annotated[str, PathParam(max_length=200)],
    lang: Annotated[str | None, Query(max_length=5)] = None,
) -> Response[str]:
    from salonbot.booking.catalog import load_salon
    from salonbot.outbound import window
    from salonbot.staff.followups import offered
    from salonbot.staff.inbox import conversation_item, conversation_salon, thread
    from salonbot.staff.views import thread_view

    member = _member()
    now = dt.datetime.now(dt.UTC)
    with _conn() as conn:
        salon = load_salon(conn, member.salon_for(conversation_salon(conn, conversation_id)))
        item = conversation_item(conn, salon.id, conversation_id, now=now)
        messages = thread(conn, conversation_id)
        last = window.last_inbound_at(conn, conversation_id)
        offers = offered(conn, salon.id)
    return _html(
        thread_view(
            _texts(salon, lang),
            salon,
            item,
            messages,
            window_open=window.is_open(last, now),
            offers=offers,
        )
    )


@router.get(f"{VIEWS}/calendar", **HIDDEN)
def view_calendar(
    date: Annotated[dt.date | None, Query()] = None,
    lang: Annotated[str | None, Query(max_length=5)] = None,
    salon_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response[str]:
    from salonbot.staff.calendar import day_bookings
    from salonbot.staff.views import calendar_view

    member = _member()
    now = dt.datetime.now(dt.UTC)
    with _conn() as conn:
        salon = _salon(conn, member, salon_id)
        day = date or now.astimezone(salon.tz).date()
        bookings = day_bookings(conn, salon, day)
    return _html(calendar_view(_texts(salon, lang), salon, day, bookings, now))


@router.get(f"{VIEWS}/dashboard", **HIDDEN)
def view_dashboard(
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    lang: Annotated[str | None, Query(max_length=5)] = None,
    salon_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response[str]:
    from salonbot.staff.metrics import daily_figures
    from salonbot.staff.views import dashboard_view

    member = _member()
    with _conn() as conn:
        salon = _salon(conn, member, salon_id)
        last = dt.datetime.now(salon.tz).date()
        figures = daily_figures(conn, salon, last - dt.timedelta(days=days - 1), last)
    return _html(dashboard_view(_texts(salon, lang), salon, figures))


@router.get(f"{VIEWS}/settings", **HIDDEN)
def view_settings(
    lang: Annotated[str | None, Query(max_length=5)] = None,
    salon_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response[str]:
    from salonbot.staff.views import settings_view

    member = _member()
    with _conn() as conn:
        salon = _salon(conn, member, salon_id)
    return _html(settings_view(_texts(salon, lang), salon, owner=member.is_owner))
