"""A salon for visit tests: a shared pedicure chair, a colour that processes, back-to-back
services with different masters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")
VISIT_SALON_ID = uuid.UUID("3f0c1a52-0000-4000-8000-0000000000f1")
# A Monday morning; the salon opens at 10:00.
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=MOSCOW)
TUESDAY = dt.date(2026, 12, 8)
WEEK = ["10:00-20:00"]


def at(hour: int, minute: int = 0, day: dt.date = TUESDAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=MOSCOW)


def visit_salon_data(chairs: int = 1, pedicurists: int = 2, **overrides: Any) -> dict[str, Any]:
    hours = {day: WEEK for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    nails = [
        {"code": f"nails{i}", "name": f"Nails {i}", "services": ["manicure", "pedicure"],
         "working_hours": hours}
        for i in range(1, pedicurists + 1)
    ]  # fmt: skip
    return {
        "id": str(VISIT_SALON_ID),
        "name": "Visits",
        "timezone": "Europe/Moscow",
        "min_notice_minutes": 60,
        "resources": [{"code": "pedicure_chair", "capacity": chairs}],
        "services": [
            {"code": "manicure", "name": {"en": "Manicure"}, "duration_minutes": 60,
             "price": 1500, "buffer_after_minutes": 10},
            {"code": "pedicure", "name": {"en": "Pedicure"}, "duration_minutes": 60,
             "price": 2000, "buffer_after_minutes": 15, "resource": "pedicure_chair"},
            {"code": "coloring", "name": {"en": "Colouring"}, "duration_minutes": 120,
             "price": 4000, "processing_minutes": 40, "finishing_minutes": 20},
            {"code": "haircut", "name": {"en": "Haircut"}, "duration_minutes": 30,
             "price": 1000},
        ],
        "masters": [
            *nails,
            {"code": "olga", "name": "Olga", "services": ["coloring", "haircut"],
             "working_hours": hours},
        ],
        **overrides,
    }  # fmt: skip
