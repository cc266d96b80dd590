"""EventBridge schedule expressions: next run times of cron and rate expressions."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from salonbot_dev.local.schedules import (
    Cron,
    Rate,
    ScheduleError,
    parse_expression,
    scheduled_event,
)

UTC = ZoneInfo("UTC")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_daily_cron_runs_next_at_two() -> None:
    cron = parse_expression("cron(0 2 * * ? *)")
    assert cron.next_after(at("2026-03-10T01:59:00"), UTC) == at("2026-03-10T02:00:00")
    # Exactly at the time, the next run is the next day
    assert cron.next_after(at("2026-03-10T02:00:00"), UTC) == at("2026-03-11T02:00:00")


def test_steps_lists_and_weekday_names() -> None:
    # Every 15 minutes on weekdays (MON-FRI); 2026-03-13 is a Friday
    cron = parse_expression("cron(0/15 9-17 ? * MON-FRI *)")
    assert cron.next_after(at("2026-03-13T17:50:00"), UTC) == at("2026-03-16T09:00:00")
    assert cron.next_after(at("2026-03-13T10:01:00"), UTC) == at("2026-03-13T10:15:00")


def test_day_of_week_numbers_start_on_sunday() -> None:
    # 1 = SUN: 2026-03-15 is a Sunday
    cron = parse_expression("cron(30 8 ? * 1 *)")
    assert cron.next_after(at("2026-03-10T00:00:00"), UTC) == at("2026-03-15T08:30:00")


def test_month_names_days_of_month_and_years() -> None:
    cron = parse_expression("cron(0 0 1,15 JAN,JUL ? 2027)")
    assert cron.next_after(at("2026-03-10T00:00:00"), UTC) == at("2027-01-01T00:00:00")
    assert cron.next_after(at("2027-01-01T00:00:00"), UTC) == at("2027-01-15T00:00:00")
    assert cron.next_after(at("2027-12-01T00:00:00"), UTC) is None


def test_cron_in_a_timezone() -> None:
    # 02:00 in Moscow (UTC+3) is 23:00 UTC the day before
    cron = parse_expression("cron(0 2 * * ? *)")
    moscow = ZoneInfo("Europe/Moscow")
    assert cron.next_after(at("2026-03-10T12:00:00"), moscow) == at("2026-03-10T23:00:00")


def test_rate_expressions() -> None:
    assert parse_expression("rate(15 minutes)") == Rate(dt.timedelta(minutes=15))
    assert parse_expression("rate(1 hour)") == Rate(dt.timedelta(hours=1))
    assert parse_expression("rate(2 days)").next_after(at("2026-03-10T00:00:00"), UTC) == at(
        "2026-03-12T00:00:00"
    )


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 2 * * *)",  # five fields
        "cron(0 2 * * MON *)",  # neither day field is ?
        "cron(0 2 ? * ? *)",  # both are
        "cron(0 25 * * ? *)",  # hour out of range
        "cron(0 2 L * ? *)",  # last day of month: not supported locally
        "cron(0 2 ? * 6#3 *)",
        "rate(0 minutes)",
        "every day",
    ],
)
def test_invalid_or_unsupported_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_expression(expression)


def test_scheduled_event_shape() -> None:
    event = scheduled_event(
        "salonbot-cleanup", region="eu-west-1", account_id="1", now=at("2026-03-10T02:00:00")
    )
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-03-10T02:00:00Z"
    assert event["resources"] == ["arn:aws:events:eu-west-1:1:rule/salonbot-cleanup"]
    assert isinstance(Cron.parse("0 2 * * ? *"), Cron)
