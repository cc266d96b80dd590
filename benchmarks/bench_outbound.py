"""The reminder run over 10,000 bookings in 100 salons: its time, SQL round trips and sends
per second against the local fake send API over HTTP, then a second run that finds every
reminder claimed. Half the salons remind with an approved template, half with free-form
buttons inside the customers' 24-hour window.

Run: `python -m benchmarks outbound`."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from benchmarks.harness import Row, count_round_trips, fresh_database_url

AREA = "outbound"
SALONS = 100
MASTERS = 10
BOOKINGS_PER_MASTER = 10  # 100 a salon, 10,000 in all
TIMEZONE = "Europe/Moscow"
NOW = dt.datetime(2030, 1, 7, 6, 0, tzinfo=dt.UTC)
TEMPLATE = {
    "purpose": "reminder",
    "name": "visit_reminder",
    "language": "ru",
    "body": "Напоминаем: {{1}} {{2}} в {{3}}. Запись {{4}}.",
    "body_parameters": ["service", "start_date", "start_time", "code"],
    "buttons": ["confirm", "cancel", "move"],
}


def salon_file(index: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=0x5A10_0000_0000_4000_8000_0000_0000_0000 + index)),
        "name": f"Salon {index}",
        "timezone": TIMEZONE,
        "language": "ru",
        "whatsapp_phone_number_id": f"{200000000000000 + index}",
        "whatsapp_business_account_id": f"{300000000000000 + index}",
        "reminders": [{"before_minutes": 1440}, {"before_minutes": 120}],
        "whatsapp_templates": [TEMPLATE] if index % 2 == 0 else [],
        "services": [
            {
                "code": "manicure",
                "name": {"ru": "Маникюр", "en": "Manicure"},
                "duration_minutes": 60,
                "price": 1500,
            }
        ],
        "masters": [
            {
                "code": f"m{m}",
                "name": f"Мастер {m}",
                "services": ["manicure"],
                "working_hours": {d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu")},
            }
            for m in range(MASTERS)
        ],
    }


def build(url: str) -> None:
    """100 salons, each with 100 bookings over the next 20 hours, one customer each, every
    customer inside their window; templates approved where the salon has one."""
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import validate_salon
    from salonbot.db.connection import connect

    with connect(url) as conn:
        for index in range(SALONS):
            import_salon(conn, validate_salon(salon_file(index)))
        conn.execute("UPDATE whatsapp_templates SET status = 'approved'")
        conn.execute(
            """
            WITH m AS (
                SELECT m.id AS master_id, m.salon_id, row_number() OVER (
                         PARTITION BY m.salon_id ORDER BY m.code) AS n,
                       (SELECT id FROM services s WHERE s.salon_id = m.salon_id) AS service_id
                  FROM masters m
            ), slot AS (
                SELECT m.*, k, row_number() OVER () AS seq
                  FROM m CROSS JOIN generate_series(1, %(per)s) AS k
            ), c AS (
                INSERT INTO clients (salon_id, phone)
                SELECT salon_id, '+7900' || lpad(seq::text, 7, '0') FROM slot
                RETURNING id, salon_id, phone
            )
            INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, starts_at,
                                  ends_at, blocked_until, price)
            SELECT 'BN' || lpad(slot.seq::text, 6, '0'), slot.salon_id, slot.master_id,
                   slot.service_id, c.id,
                   %(now)s + (slot.k * 2) * interval '1 hour',
                   %(now)s + (slot.k * 2 + 1) * interval '1 hour',
                   %(now)s + (slot.k * 2 + 1) * interval '1 hour', 1500
              FROM slot JOIN c ON c.phone = '+7900' || lpad(slot.seq::text, 7, '0')
            """,
            {"per": BOOKINGS_PER_MASTER, "now": NOW},
        )
        conn.execute(
            """
            INSERT INTO ai_conversations (id, salon_id, phone_number, language, last_inbound_at)
            SELECT 'conv_' || salon_id::text || '_' || ltrim(phone, '+'), salon_id, phone, 'ru',
                   %s
              FROM clients
            """,
            (NOW - dt.timedelta(hours=1),),
        )
        conn.commit()


def run() -> list[Row]:
    from salonbot.config import Settings
    from salonbot.db.connection import connect
    from salonbot.outbound.reminders import ReminderRun
    from salonbot.whatsapp.client import WhatsAppClient
    from salonbot_dev.fakes.whatsapp import start_fake_whatsapp

    url = fresh_database_url()
    build(url)
    fake = start_fake_whatsapp(out=None)
    fake.add_template("visit_reminder", "ru", body=str(TEMPLATE["body"]))
    settings = Settings(
        whatsapp_api_base_url=fake.url + "/v21.0", whatsapp_access_token="EAAG-bench"
    )
    client = WhatsAppClient(settings)
    rows: list[Row] = []
    try:
        with connect(url) as conn:
            conn.autocommit = True
            runner = ReminderRun(client, clock=lambda: NOW + dt.timedelta(minutes=30))
            with count_round_trips(conn) as counted:
                started = time.perf_counter()
                first = runner.run(conn)
                elapsed = time.perf_counter() - started
            with count_round_trips(conn) as again_counted:
                started = time.perf_counter()
                again = runner.run(conn)
                again_elapsed = time.perf_counter() - started
    finally:
        fake.stop()
        client.close()
    label = f"{SALONS} salons, {SALONS * MASTERS * BOOKINGS_PER_MASTER} bookings"
    rows.append(
        Row(
            AREA,
            "reminder run: bookings due / sent (template + free-form)",
            f"{first.due} / {first.sent} ({first.template} + {first.free_form})",
            "every due booking, once",
            f"{label}; {first.skipped} day-before reminders skipped for bookings within 2 h",
        )
    )
    rows.append(
        Row(
            AREA,
            "reminder run: time, sends per second",
            f"{elapsed:.1f} s, {first.sent / elapsed:.0f} sends/s",
            "within the 5-minute schedule",
            "one process, sequential sends to the fake send API over HTTP on 127.0.0.1",
        )
    )
    rows.append(
        Row(
            AREA,
            "reminder run: SQL round trips",
            f"{counted.count} ({counted.count / max(first.sent, 1):.3f} per send)",
            "constant per 100 sends",
            "due query, templates, one claim statement, outcomes and costs every 100 sends",
        )
    )
    rows.append(
        Row(
            AREA,
            "second run at once: due / sent, time, round trips",
            f"{again.due} / {again.sent}, {again_elapsed * 1000:.0f} ms, {again_counted.count}",
            "0 / 0",
            "every reminder claimed by the first run",
        )
    )
    return rows
