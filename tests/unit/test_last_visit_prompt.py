"""The model's one line about the customer's last visit."""

from __future__ import annotations

import datetime as dt

from salonbot.assistant.prompt import last_visit_line
from salonbot.booking.salon_file import validate_salon
from tests.fakes.memory_desk import Calendar, salon_from_file
from tests.integration.visit_salon import NOW, at, visit_salon_data


def test_the_last_visit_is_one_short_line_with_codes() -> None:
    salon = salon_from_file(validate_salon(visit_salon_data()))
    calendar = Calendar(salon)
    calendar.desk("+79000000001", NOW).book(["manicure", "haircut"], at(12))
    last = calendar.desk("+79000000001", NOW + dt.timedelta(days=3)).last_visit()

    line = last_visit_line(salon, last)

    assert line == "Customer's last visit: 2026-12-08 manicure+haircut nails1,olga."
    assert last_visit_line(salon, None) is None
