"""The staff console's pages, rendered by StaffFunction's handler in this process (the
server's time: routing, the staff token's claims, SQL, HTML), on a fresh database: a
20-master salon with 200 bookings on the day shown, 90 days of conversations for the
figures and 50 conversations waiting in the inbox. Bytes are what a browser loads for the
page: the shell page, its script and stylesheet, and the view's HTML.

Run: `python -m benchmarks console`."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.harness import Row, fresh_database_url, measure

AREA = "console"
MASTERS = 20
BOOKINGS_TODAY = 200
DAYS = 90
CONVERSATIONS_PER_DAY = 40
WAITING = 50
TIMEZONE = "Europe/Moscow"
ROOT = Path(__file__).resolve().parents[1]
SALON = uuid.UUID("3f0c1a52-0000-4000-8000-00000000be01")


def _salon_file() -> dict[str, Any]:
    week = {d: ["08:00-22:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return {
        "id": str(SALON),
        "name": "Console benchmark salon",
        "timezone": TIMEZONE,
        "language": "ru",
        "services": [
            {
                "code": "cut",
                "name": {"ru": "Стрижка", "en": "Haircut"},
                "duration_minutes": 45,
                "price": 1500,
            },
        ],
        "masters": [
            {"code": f"m{m:02d}", "name": f"Мастер {m}", "services": ["cut"], "working_hours": week}
            for m in range(MASTERS)
        ],
    }


def _seed(url: str, today: dt.date) -> None:
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import validate_salon
    from salonbot.db.connection import connect

    tz = ZoneInfo(TIMEZONE)
    with connect(url) as conn:
        import_salon(conn, validate_salon(_salon_file()))
        masters = [
            r["id"]
            for r in conn.execute(
                "SELECT id FROM masters WHERE salon_id = %s ORDER BY code", (SALON,)
            ).fetchall()
        ]
        service = conn.execute("SELECT id FROM services WHERE salon_id = %s", (SALON,)).fetchone()
        # 200 bookings today: 10 per master, one an hour from 09:00, each its own client
        per_master = BOOKINGS_TODAY // MASTERS
        rows = []
        for m, master in enumerate(masters):
            for i in range(per_master):
                phone = f"+7900{m:02d}{i:05d}"
                start = dt.datetime.combine(today, dt.time(9 + i), tz)
                rows.append((phone, master, start))
        for phone, master, start in rows:
            client = conn.execute(
                "INSERT INTO clients (salon_id, phone, name) VALUES (%s, %s, %s) RETURNING id",
                (SALON, phone, "Клиент " + phone[-4:]),
            ).fetchone()
            end = start + dt.timedelta(minutes=45)
            conn.execute(
                "INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, "
                "starts_at, ends_at, blocked_until, price, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1500, %s)",
                (
                    uuid.uuid4().hex[:8].upper(),
                    SALON,
                    master,
                    service["id"],
                    client["id"],
                    start,
                    end,
                    end,
                    start - dt.timedelta(days=1),
                ),
            )
        # 90 days of conversations: a customer message and two replies each
        conn.execute(
            """
            WITH c AS (
                INSERT INTO ai_conversations (id, salon_id, phone_number, last_message_at)
                SELECT 'conv_' || %(salon)s || '_7955' || lpad(n::text, 6, '0'), %(salon)s,
                       '7955' || lpad(n::text, 6, '0'),
                       %(now)s - make_interval(days => n / %(per_day)s)
                  FROM generate_series(0, %(count)s - 1) AS n
                RETURNING id, last_message_at
            )
            INSERT INTO ai_messages (conversation_id, salon_id, role, content, prompt_tokens,
                                     completion_tokens, cost, created_at, booking_code)
            SELECT c.id, %(salon)s, r.role, r.content, r.tokens, r.tokens / 10, r.cost,
                   c.last_message_at, CASE WHEN r.role = 'assistant' AND r.tokens > 0
                   AND right(c.id, 1) IN ('1', '5') THEN 'BK' || right(c.id, 5) END
              FROM c, (VALUES ('user', 'Хочу записаться', 0, 0),
                              ('assistant', 'Когда вам удобно?', 1200, 0.0004),
                              ('assistant', 'Записала!', 0, 0)) AS r(role, content, tokens, cost)
            """,
            {
                "salon": SALON,
                "now": dt.datetime.now(dt.UTC),
                "per_day": CONVERSATIONS_PER_DAY,
                "count": CONVERSATIONS_PER_DAY * DAYS,
            },
        )
        conn.execute(
            "UPDATE ai_conversations SET status = 'handoff', handoff_until = now() + interval "
            "'1 day' WHERE id IN (SELECT id FROM ai_conversations WHERE salon_id = %s "
            "ORDER BY last_message_at DESC LIMIT %s)",
            (SALON, WAITING),
        )
        conn.commit()


def _handler() -> Any:
    spec = importlib.util.spec_from_file_location("bench_staff", ROOT / "functions/staff/app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


class _Context:
    function_name = "salonbot-staff"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:salonbot-staff"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _event(path: str, query: dict[str, str], *, claims: bool = True) -> dict[str, Any]:
    context: dict[str, Any] = {
        "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
        "requestId": "bench",
        "routeKey": "GET /api/v1/staff/{route+}",
        "stage": "$default",
    }
    if claims:
        context["authorizer"] = {
            "jwt": {
                "claims": {
                    "sub": "bench",
                    "username": "owner@example.com",
                    "cognito:groups": f"[salon:{SALON} owner]",
                    "scope": "aws.cognito.signin.user.admin",
                },
                "scopes": None,
            }
        }
    return {
        "version": "2.0",
        "routeKey": context["routeKey"],
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "queryStringParameters": query or None,
        "headers": {"host": "localhost"},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def run() -> list[Row]:
    url = fresh_database_url()
    today = dt.datetime.now(ZoneInfo(TIMEZONE)).date()
    _seed(url, today)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "LOG_LEVEL": "WARNING",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    from salonbot.config import get_settings
    from salonbot.db.connection import reset_connection

    get_settings.cache_clear()
    reset_connection()
    handler = _handler()
    context = _Context()

    def page(path: str, query: dict[str, str], *, claims: bool = True) -> str:
        result = handler(_event(path, query, claims=claims), context)
        assert result["statusCode"] == 200, result
        return str(result["body"])

    shell = page("/console/", {}, claims=False)
    script = page("/console/assets/console.js", {}, claims=False)
    style = page("/console/assets/console.css", {}, claims=False)
    page_bytes = sum(len(x.encode()) for x in (shell, script, style))
    pages = {
        "inbox (50 waiting)": ("/api/v1/staff/views/inbox", {}),
        f"calendar ({MASTERS} masters, {BOOKINGS_TODAY} bookings)": (
            "/api/v1/staff/views/calendar",
            {"date": today.isoformat()},
        ),
        f"dashboard ({DAYS} days)": ("/api/v1/staff/views/dashboard", {"days": str(DAYS)}),
    }
    rows = []
    for name, (path, query) in pages.items():
        body = page(path, query)
        assert ("data-code" in body) if "calendar" in name else True
        timing = measure(lambda p=path, q=query: page(p, q), repeat=60, warmup=5)
        view_bytes = len(body.encode())
        rows.append(
            Row(
                AREA,
                f"{name}: server time",
                f"{timing.median_ms:.1f} ms median, {timing.p95_ms:.1f} ms p95",
                "< 100 ms median",
                "StaffFunction's handler in-process, PostgreSQL on this machine",
            )
        )
        rows.append(
            Row(
                AREA,
                f"{name}: bytes",
                f"{(page_bytes + view_bytes) / 1024:.1f} KB",
                "< 150 KB",
                f"view {view_bytes / 1024:.1f} KB + shell, script and "
                f"stylesheet {page_bytes / 1024:.1f} KB, uncompressed",
            )
        )
    rows.append(
        Row(
            AREA,
            "shell page, script, stylesheet",
            json.dumps({"html": len(shell), "js": len(script), "css": len(style)}),
            "",
            "bytes, loaded once",
        )
    )
    return rows
