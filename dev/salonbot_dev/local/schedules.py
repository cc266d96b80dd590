"""EventBridge schedule expressions (`cron(...)`, `rate(...)`) and a thread that invokes a
function on them with the event EventBridge sends.

Cron fields are EventBridge's six: minutes, hours, day of month, month, day of week
(1-7 = SUN-SAT), year; with `*`, `?`, lists, ranges, steps and names. `L`, `W` and `#`
are refused with a clear error rather than run at the wrong time."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot_dev.local.functions import ScheduleSource

log = logging.getLogger("salonbot_dev.local.schedules")

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)$", re.IGNORECASE)
_CRON = re.compile(r"^cron\((.*)\)$", re.IGNORECASE)
_SEARCH_DAYS = 366 * 8  # a cron that matches nothing in eight years never runs


class ScheduleError(ValueError):
    """An expression the local stack cannot run."""


def _field(text: str, low: int, high: int, names: list[str] | None, offset: int) -> set[int]:
    """The values a cron field allows. `offset` maps names to numbers (1 for JAN/SUN)."""
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, names, offset), _number(last, names, offset)
        else:
            start = _number(part, names, offset)
            end = high if step != 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _number(text: str, names: list[str] | None, offset: int) -> int:
    upper = text.strip().upper()
    if names and upper in names:
        return names.index(upper) + offset
    try:
        return int(upper)
    except ValueError as exc:
        raise ScheduleError(
            f"not a cron value: {text!r} (L, W and # are not supported locally)"
        ) from exc


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: `?` (the day of week decides)
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1-7 = SUN-SAT; None: `?`
    years: frozenset[int]

    @classmethod
    def parse(cls, fields: str) -> Cron:
        parts = fields.split()
        if len(parts) != 6:
            raise ScheduleError(f"cron needs 6 fields, got {len(parts)}: {fields!r}")
        minute, hour, day, month, weekday, year = parts
        if (day == "?") == (weekday == "?"):
            raise ScheduleError("cron: exactly one of day-of-month and day-of-week must be ?")
        return cls(
            minutes=frozenset(_field(minute, 0, 59, None, 0)),
            hours=frozenset(_field(hour, 0, 23, None, 0)),
            days=None if day == "?" else frozenset(_field(day, 1, 31, None, 0)),
            months=frozenset(_field(month, 1, 12, _MONTHS, 1)),
            weekdays=None if weekday == "?" else frozenset(_field(weekday, 1, 7, _DAYS, 1)),
            years=frozenset(_field(year, 1970, 2199, None, 0)),
        )

    def _day_matches(self, day: dt.date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days is not None and day.day not in self.days:
            return False
        aws_weekday = (day.weekday() + 1) % 7 + 1
        return self.weekdays is None or aws_weekday in self.weekdays

    def next_after(self, moment: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
        local = moment.astimezone(tz)
        day = local.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = dt.datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=tz
                        )
                        if candidate > local:
                            return candidate.astimezone(dt.UTC)
            day += dt.timedelta(days=1)
        return None


@dataclass(frozen=True)
class Rate:
    interval: dt.timedelta

    def next_after(self, moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
        return moment + self.interval


def parse_expression(expression: str) -> Cron | Rate:
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).lower().rstrip("s")
        if value < 1:
            raise ScheduleError(f"rate must be positive: {expression!r}")
        return Rate(dt.timedelta(**{f"{unit}s": value}))
    cron = _CRON.match(text)
    if cron:
        return Cron.parse(cron.group(1))
    raise ScheduleError(f"not a schedule expression: {expression!r}")


def scheduled_event(
    rule_name: str, *, region: str, account_id: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The event EventBridge sends a function on a schedule."""
    moment = now or dt.datetime.now(dt.UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/{rule_name}"],
        "detail": {},
    }


@dataclass
class ScheduleRunner:
    """Invokes a function each time its schedule comes due, until stopped."""

    source: ScheduleSource
    invoke: Callable[[dict[str, Any]], Any]
    rule_name: str
    region: str = "us-east-1"
    account_id: str = "123456789012"
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.expression = parse_expression(self.source.expression)
        self.timezone = ZoneInfo(self.source.timezone)
        self.next_run: dt.datetime | None = self.expression.next_after(self.clock(), self.timezone)

    def event(self) -> Any:
        if self.source.input is not None:
            return self.source.input
        return scheduled_event(self.rule_name, region=self.region, account_id=self.account_id)

    def run_now(self) -> Any:
        return self.invoke(self.event())

    def _run(self) -> None:
        while self.next_run is not None and not self._stop.is_set():
            delay = (self.next_run - self.clock()).total_seconds()
            if delay > 0 and self._stop.wait(min(delay, 60.0)):
                break
            if self.clock() < self.next_run:
                continue
            try:
                self.run_now()
            except Exception:
                log.exception("scheduled run of %s failed", self.rule_name)
            self.next_run = self.expression.next_after(self.clock(), self.timezone)

    def start(self) -> None:
        if self.source.enabled:
            self._thread = threading.Thread(target=self._run, name=self.rule_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
