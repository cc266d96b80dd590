"""`salonbot stats`: a salon's figures over a window, on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.db.connection import Connection
from salonbot.errors import InvalidInput, UnknownSalon
from salonbot.stats import salon_stats
from salonbot_dev.cli import main
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID

pytestmark = pytest.mark.integration

MOSCOW = dt.timezone(dt.timedelta(hours=3))
DAY = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def activity(db: Connection) -> Connection:
    """Two conversations on 2026-03-10, one of which booked; one message the day before."""
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    s = DEMO_SALON_ID
    db.execute(
        """INSERT INTO ai_conversations (id, salon_id, phone_number)
           VALUES ('a', %(s)s, '+1'), ('b', %(s)s, '+2')""",
        {"s": s},
    )
    rows = [
        ("a", "user", 0, 0, "0", None, None, DAY),
        ("a", "assistant", 900, 100, "0.0002", 1000, None, DAY + dt.timedelta(seconds=2)),
        ("a", "user", 0, 0, "0", None, None, DAY + dt.timedelta(minutes=1)),
        ("a", "assistant", 1100, 200, "0.0003", 3000, "BK1", DAY + dt.timedelta(minutes=2)),
        ("b", "user", 0, 0, "0", None, None, DAY + dt.timedelta(hours=1)),
        ("b", "assistant", 0, 0, "0", 50, None, DAY + dt.timedelta(hours=1, seconds=1)),
        ("b", "user", 0, 0, "0", None, None, DAY - dt.timedelta(days=1)),
    ]
    for conv, role, p, c, cost, ms, code, at in rows:
        db.execute(
            """INSERT INTO ai_messages (conversation_id, salon_id, role, prompt_tokens,
                   completion_tokens, cost, response_time_ms, booking_code, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (conv, s, role, p, c, Decimal(cost), ms, code, at),
        )
    db.execute("INSERT INTO clients (salon_id, phone) VALUES (%s, '+1')", (s,))
    db.execute(
        """INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, starts_at,
               ends_at, blocked_until, price, created_at, status, cancelled_at)
           SELECT v.code, %(s)s, m.id, sv.id, c.id, v.at, v.at + interval '1 hour',
                  v.at + interval '1 hour', 1500, %(day)s, v.status, v.cancelled
           FROM (VALUES ('BK1', %(day)s + interval '2 days', 'confirmed', NULL::timestamptz),
                        ('BK2', %(day)s + interval '3 days', 'cancelled', %(day)s))
                AS v(code, at, status, cancelled),
                masters m, services sv, clients c
           WHERE m.code = 'anna' AND sv.code = 'manicure' AND c.phone = '+1'""",
        {"s": s, "day": DAY},
    )
    db.commit()
    return db


def test_stats_over_one_day(activity: Connection) -> None:
    since = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    stats = salon_stats(activity, DEMO_SALON_ID, since, since + dt.timedelta(days=1))
    assert stats.conversations == 2
    assert stats.conversations_with_booking == 1
    assert stats.conversion_rate == 0.5
    assert stats.messages_received == 3
    assert (stats.replies, stats.model_replies) == (3, 2)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.tokens_used) == (2000, 300, 2300)
    assert stats.cost_usd == Decimal("0.0005")
    assert stats.avg_response_time_ms == pytest.approx((1000 + 3000 + 50) / 3, abs=0.1)
    assert stats.p95_response_time_ms == pytest.approx(2800.0)
    assert (stats.bookings_created, stats.bookings_by_assistant) == (2, 1)
    assert stats.bookings_cancelled == 1


def test_an_empty_window_and_bad_input(activity: Connection) -> None:
    since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    empty = salon_stats(activity, DEMO_SALON_ID, since, since + dt.timedelta(days=1))
    assert (empty.conversations, empty.conversion_rate, empty.p95_response_time_ms) == (
        0,
        0.0,
        None,
    )
    with pytest.raises(UnknownSalon):
        salon_stats(activity, "3f0c1a52-0000-4000-8000-00000000ffff", since, DAY)
    with pytest.raises(InvalidInput):
        salon_stats(activity, DEMO_SALON_ID, DAY, since)


def test_cli_stats_days_are_the_salons_local_days(
    activity: Connection, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--database-url", database_url, "stats", "--salon", str(DEMO_SALON_ID)]
    # The 9th in Moscow holds only the message sent on the 9th
    assert main([*base, "--from", "2026-03-09", "--to", "2026-03-09", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["messages_received"] == 1
    assert data["since"] == "2026-03-09T00:00:00+03:00"
    assert data["until"] == "2026-03-10T00:00:00+03:00"
    # The table form
    assert main([*base, "--from", "2026-03-10", "--to", "2026-03-10"]) == 0
    table = dict(
        (line[:21].strip(), line[21:].strip()) for line in capsys.readouterr().out.splitlines()
    )
    assert table["booking conversion"] == "50.0%"
    assert table["cost"] == "$0.0005"
    assert table["response time p95"] == "2800 ms"


def test_cli_stats_errors(
    activity: Connection, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--database-url", database_url, "stats"]
    assert main([*base, "--salon", "nope"]) == 3
    assert main([*base, "--salon", str(DEMO_SALON_ID), "--from", "yesterday"]) == 2
    assert "--from" in capsys.readouterr().err


def test_conversations_from_click_to_whatsapp_ads_are_attributed(activity: Connection) -> None:
    # Given the booked conversation came from an ad, the other from a post
    for conversation, kind in (("a", "ad"), ("b", "post")):
        activity.execute(
            "UPDATE ai_conversations SET referral = %s::jsonb WHERE id = %s",
            (json.dumps({"source_type": kind, "ctwa_clid": "ARAk"}), conversation),
        )
    activity.commit()
    # When the day's figures are read, Then the ad's conversation and its booking count
    since = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    stats = salon_stats(activity, DEMO_SALON_ID, since, since + dt.timedelta(days=1))
    assert (stats.conversations_from_ads, stats.conversations_from_ads_with_booking) == (1, 1)
    assert stats.as_dict()["conversations_from_ads"] == 1
