"""Salons for booking tests, imported through the real importer.

`berlin_salon()` is a small studio in a DST zone (Europe/Berlin): anna does manicures
with a lunch break, bob does manicures and haircuts on a single shift, and both work
the early hours of Sunday so the DST nights can be tested."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from salonbot.booking.catalog import Salon, load_salon
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import validate_salon
from salonbot.db.connection import Connection

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_SALON_ID = uuid.UUID("3f0c1a52-0000-4000-8000-0000000000b1")
OTHER_SALON_ID = uuid.UUID("3f0c1a52-0000-4000-8000-0000000000b2")

# Monday 2 March 2026, 08:00 in Berlin: "now" for most tests.
NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN)
MONDAY = dt.date(2026, 3, 2)
TUESDAY = dt.date(2026, 3, 3)
# Clocks go forward 02:00 -> 03:00 on Sunday 29 March, back 03:00 -> 02:00 on 25 October.
SPRING_FORWARD = dt.date(2026, 3, 29)
FALL_BACK = dt.date(2026, 10, 25)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat")

BERLIN_SALON: dict[str, Any] = {
    "id": str(BERLIN_SALON_ID),
    "name": "Studio Berlin",
    "timezone": "Europe/Berlin",
    "language": "en",
    "currency": "EUR",
    "slot_step_minutes": 15,
    "min_notice_minutes": 60,
    "booking_horizon_days": 30,
    "services": [
        {
            "code": "manicure",
            "name": {"en": "Manicure", "de": "Maniküre"},
            "duration_minutes": 60,
            "price": 40,
            "buffer_after_minutes": 10,
        },
        {"code": "haircut", "name": {"en": "Haircut"}, "duration_minutes": 45, "price": 35},
    ],
    "masters": [
        {
            "code": "anna",
            "name": "Anna",
            "services": ["manicure"],
            "working_hours": {
                **{day: ["10:00-14:00", "15:00-19:00"] for day in WEEKDAYS},
                "sun": ["01:00-04:00"],
            },
            "days_off": ["2026-03-04"],
        },
        {
            "code": "bob",
            "name": "Bob",
            "services": ["manicure", "haircut"],
            "working_hours": {
                **{day: ["12:00-18:00"] for day in WEEKDAYS},
                "sun": ["01:00-04:00"],
            },
        },
    ],
}


def berlin_salon_data(**overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(BERLIN_SALON)
    data.update(overrides)
    return data


def create_salon(conn: Connection, data: dict[str, Any]) -> Salon:
    result = import_salon(conn, validate_salon(data))
    return load_salon(conn, result.salon_id)


def berlin_salon(conn: Connection, **overrides: Any) -> Salon:
    return create_salon(conn, berlin_salon_data(**overrides))


def at(day: dt.date, hour: int, minute: int = 0, *, fold: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN, fold=fold)
