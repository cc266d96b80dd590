"""The admin commands say what is wrong in words: `stats` for a salon that is not one (as
`bookings` says it), `slots` for a day with no free time (in the past, beyond the
booking horizon, the salon closed, the master's day off), on stderr, with exit code 0
and `--json` still a list (DESIGN.md §5). These commands work from the real clock."""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest

from salonbot.db.connection import Connection
from salonbot_dev.cli import main
from tests.integration.salon_builder import BERLIN, BERLIN_SALON, BERLIN_SALON_ID, berlin_salon

pytestmark = pytest.mark.integration

NOT_A_SALON = "3f0c1a52-0000-4000-8000-0000000000ff"


@dataclass
class Ran:
    code: int
    out: str
    err: str


def run(database_url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    code = main(["--database-url", database_url, *argv])
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def today() -> dt.date:
    return dt.datetime.now(BERLIN).date()


def next_weekday(weekday: int, *, after: int = 1) -> dt.date:
    """The first day with this isoweekday at least `after` days from today."""
    day = today() + dt.timedelta(days=after)
    while day.isoweekday() != weekday:
        day += dt.timedelta(days=1)
    return day


def masters_without_sundays(anna_days_off: list[str]) -> list[dict[str, Any]]:
    masters = copy.deepcopy(BERLIN_SALON["masters"])
    for master in masters:
        master["working_hours"].pop("sun")
    masters[0]["days_off"] = anna_days_off
    return masters


def named(day: dt.date) -> str:
    return f"{day:%A} {day.isoformat()}"


@pytest.fixture
def salon_id(db: Connection) -> str:
    berlin_salon(db, masters=masters_without_sundays([next_weekday(1).isoformat()]))
    db.commit()
    return str(BERLIN_SALON_ID)


def test_stats_for_a_salon_that_is_not_one_says_so(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = run(database_url, capsys, "stats", "--salon", NOT_A_SALON)
    garbled = run(database_url, capsys, "stats", "--salon", "aurora")
    bookings = run(database_url, capsys, "bookings", "--salon", NOT_A_SALON)

    assert (unknown.code, unknown.err) == (3, f"error: no salon {NOT_A_SALON}\n")
    assert (garbled.code, garbled.err) == (3, "error: 'aurora' is not a salon id\n")
    assert unknown.err == bookings.err


def slots(
    database_url: str, capsys: pytest.CaptureFixture[str], day: dt.date, *extra: str
) -> tuple[Ran, Ran]:
    """(text, --json) of `slots` for manicure on `day`."""
    argv = ("slots", "--salon", str(BERLIN_SALON_ID), "--service", "manicure")
    argv += ("--date", day.isoformat(), *extra)
    return run(database_url, capsys, *argv), run(database_url, capsys, *argv, "--json")


@pytest.mark.parametrize(
    ("day", "master", "why"),
    [
        (
            lambda: today() - dt.timedelta(days=1),
            None,
            lambda d: (
                f"{named(d)} is in the past (today is {today().isoformat()} in Europe/Berlin)"
            ),
        ),
        (
            lambda: today() + dt.timedelta(days=30),
            None,
            lambda d: (
                f"{named(d)} is beyond the booking horizon: bookings open 30 days "
                f"ahead, until {(today() + dt.timedelta(days=29)).isoformat()}"
            ),
        ),
        (lambda: next_weekday(7), None, lambda d: f"the salon is closed on {named(d)}"),
        (lambda: next_weekday(7), "anna", lambda d: f"Anna does not work on {named(d)}"),
        (lambda: next_weekday(1), "anna", lambda d: f"Anna has a day off on {named(d)}"),
    ],
    ids=["past", "beyond-horizon", "closed", "not-working", "day-off"],
)
def test_a_day_without_free_time_says_why(
    database_url: str,
    salon_id: str,
    capsys: pytest.CaptureFixture[str],
    day: Any,
    master: str | None,
    why: Any,
) -> None:
    asked = day()

    text, as_json = slots(database_url, capsys, asked, *(("--master", master) if master else ()))

    said = f"no free times: {why(asked)}\n"
    assert (text.code, text.out, text.err) == (0, "", said)
    assert (as_json.code, json.loads(as_json.out), as_json.err) == (0, [], said)


def test_a_day_with_free_time_says_nothing_on_stderr(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, as_json = slots(database_url, capsys, next_weekday(2, after=2))

    assert text.err == as_json.err == ""
    assert len(json.loads(as_json.out)) > 0 and "starts" in text.out
