"""`salonbot slots` and `salonbot bookings create` with several services: one visit, back
to back, as DESIGN's contract for visits reads."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from salonbot.db.connection import Connection
from salonbot_dev.cli import main
from tests.integration.salon_builder import create_salon
from tests.integration.visit_salon import MOSCOW, VISIT_SALON_ID, visit_salon_data

ALICE = "+79000000001"


def in_two_days() -> dt.date:
    return dt.datetime.now(MOSCOW).date() + dt.timedelta(days=2)


@pytest.fixture
def salon_id(db: Connection) -> str:
    create_salon(db, visit_salon_data())
    db.commit()
    return str(VISIT_SALON_ID)


def run(database_url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--database-url", database_url, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_slots_and_create_for_two_services(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    day = in_two_days()
    # When the slots of a manicure + pedicure visit are asked for
    code, out, _ = run(
        database_url, capsys, "slots", "--salon", salon_id, "--service", "manicure",
        "--service", "pedicure", "--date", day.isoformat(), "--json",
    )  # fmt: skip
    assert code == 0
    slots = json.loads(out)
    # Then each slot names the visit's start and first master, and its items back to back
    first = slots[0]
    assert first["starts_at"] == f"{day.isoformat()}T10:00:00+03:00"
    assert first["master_code"] == "nails1"
    assert [(i["service_code"], i["starts_at"][11:16]) for i in first["items"]] == [
        ("manicure", "10:00"),
        ("pedicure", "11:00"),
    ]

    # When the visit is booked with one master
    code, out, _ = run(
        database_url, capsys, "bookings", "create", "--salon", salon_id, "--phone", ALICE,
        "--service", "manicure", "--service", "pedicure", "--master", "nails2",
        "--at", f"{day.isoformat()} 12:00", "--json",
    )  # fmt: skip
    assert code == 0, out
    booking = json.loads(out)
    # Then every item has that master, one code for the visit
    assert [(i["service_code"], i["master_code"]) for i in booking["items"]] == [
        ("manicure", "nails2"),
        ("pedicure", "nails2"),
    ]
    assert (booking["starts_at"][11:16], booking["ends_at"][11:16]) == ("12:00", "14:00")
    code, out, _ = run(
        database_url, capsys, "bookings", "--salon", salon_id, "--phone", ALICE, "--json"
    )
    assert [b["code"] for b in json.loads(out)] == [booking["code"]]


def test_slots_json_on_a_past_day_is_an_empty_list_with_the_reason_on_stderr(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    past = dt.datetime.now(MOSCOW).date() - dt.timedelta(days=1)
    code, out, err = run(
        database_url, capsys, "slots", "--salon", salon_id, "--service", "manicure",
        "--service", "pedicure", "--date", past.isoformat(), "--json",
    )  # fmt: skip
    assert (code, json.loads(out)) == (0, [])
    assert "in the past" in err


def test_resources_and_processing_are_imported_and_a_reimport_drops_a_resource(
    db: Connection,
) -> None:
    # Given the visits salon imported: a pedicure chair, a colour that processes
    salon = create_salon(db, visit_salon_data(chairs=2, cancel_notice_minutes=120))
    assert {code: r.capacity for code, r in salon.resources.items()} == {"pedicure_chair": 2}
    assert salon.service("pedicure").resource_id == salon.resources["pedicure_chair"].id
    coloring = salon.service("coloring")
    assert (coloring.processing_minutes, coloring.finishing_minutes) == (40, 20)
    assert (salon.cancel_notice_minutes, salon.move_notice_minutes) == (120, None)

    # When the file is imported again without resources
    data = visit_salon_data()
    data["resources"] = []
    del data["services"][1]["resource"]
    again = create_salon(db, data)

    # Then the chair is gone from the salon and the pedicure needs none
    assert again.resources == {}
    assert again.service("pedicure").resource_id is None
    assert again.cancel_notice_minutes is None
