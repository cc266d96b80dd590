"""The model's tools with a visit of several services ("маникюр и педикюр"): one slot
search and one booking for the whole visit, the services joined by "+"."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from salonbot.assistant.tools.context import ToolContext
from salonbot.assistant.tools.registry import run_tool
from salonbot.booking.salon_file import validate_salon
from tests.fakes.memory_desk import Calendar, salon_from_file
from tests.integration.visit_salon import visit_salon_data

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=MOSCOW)  # a Monday
ALICE = "+79000000001"


def call(ctx: ToolContext, name: str, **arguments: object) -> dict[str, Any]:
    return run_tool(ctx, name, json.dumps(arguments))


def test_the_model_finds_and_books_manicure_then_pedicure_as_one_visit() -> None:
    calendar = Calendar(salon_from_file(validate_salon(visit_salon_data())))
    ctx = ToolContext(desk=calendar.desk(ALICE, NOW), language="en", message_id="wamid.1")

    free = call(ctx, "slots", service="manicure+pedicure", date="2026-12-08")
    assert free["ok"] is True and free["free"]["nails1"][0].startswith("10:00")

    result = call(ctx, "book", service="manicure+pedicure", start="2026-12-08 12:00")

    assert result["ok"] is True
    assert result["booked"]["service"] == "Manicure + Pedicure"
    assert (result["booked"]["start"], result["booked"]["end"]) == ("2026-12-08 12:00", "14:00")
    [visit] = calendar.live()
    assert [i.service_code for i in visit.items] == ["manicure", "pedicure"]
    # and the same message does not book a pedicure again
    again = call(ctx, "book", service="pedicure", start="2026-12-08 16:00")
    assert again["error"] == "one_per_message"


def test_a_malformed_visit_is_an_error_the_model_can_correct() -> None:
    calendar = Calendar(salon_from_file(validate_salon(visit_salon_data())))
    ctx = ToolContext(desk=calendar.desk(ALICE, NOW), language="en")

    result = call(ctx, "book", service="manicure++pedicure", start="2026-12-08 12:00")

    assert (result["ok"], result["error"]) == (False, "invalid_input")
    assert calendar.live() == []
