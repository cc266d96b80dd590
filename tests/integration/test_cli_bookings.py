"""`salonbot slots` and `salonbot bookings` against real PostgreSQL, as an admin uses them.

These commands work from the real clock, so the tests pick a Monday at least two days
ahead (inside the horizon, clear of the minimum notice)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from salonbot.db.connection import Connection
from salonbot_dev.cli import main
from tests.integration.salon_builder import BERLIN, BERLIN_SALON_ID, berlin_salon

ALICE = "+4915100000001"
BRUNO = "+4915100000002"


def next_monday() -> dt.date:
    today = dt.datetime.now(BERLIN).date()
    ahead = 7 - today.weekday()  # 1 (on a Sunday) .. 7 (on a Monday)
    return today + dt.timedelta(days=ahead if ahead >= 2 else ahead + 7)


@pytest.fixture
def salon_id(db: Connection) -> str:
    berlin_salon(db)
    db.commit()
    return str(BERLIN_SALON_ID)


def run(database_url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["--database-url", database_url, *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def run_json(database_url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    code, out = run(database_url, capsys, *argv, "--json")
    assert code == 0, out
    return json.loads(out)


def test_slots_for_a_day_and_the_earliest(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monday = next_monday()

    day = run_json(
        database_url, capsys, "slots", "--salon", salon_id, "--service", "manicure",
        "--date", monday.isoformat(), "--master", "anna",
    )  # fmt: skip
    earliest = run_json(
        database_url, capsys, "slots", "--salon", salon_id, "--service", "haircut",
        "--earliest", "--limit", "3",
    )  # fmt: skip

    assert isinstance(day, list) and len(day) == 26
    assert day[0]["starts_at"].startswith(f"{monday.isoformat()}T10:00:00+0")
    assert day[0]["master_code"] == "anna"
    assert isinstance(earliest, list) and len(earliest) == 3
    assert {slot["master_code"] for slot in earliest} == {"bob"}
    starts = [dt.datetime.fromisoformat(slot["starts_at"]) for slot in earliest]
    assert starts == sorted(starts) and starts[0] > dt.datetime.now(dt.UTC)


def test_create_list_move_cancel(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monday = next_monday()

    # When an admin books Alice, lists, moves and cancels the booking
    created = run_json(
        database_url, capsys, "bookings", "create", "--salon", salon_id, "--phone", ALICE,
        "--service", "manicure", "--at", f"{monday} 11:00", "--master", "anna",
        "--name", "Alice",
    )  # fmt: skip
    assert isinstance(created, dict)
    code = created["code"]
    listed = run_json(database_url, capsys, "bookings", "--salon", salon_id, "--phone", ALICE)
    code_out, table = run(database_url, capsys, "bookings", "--salon", salon_id)
    moved = run_json(
        database_url, capsys, "bookings", "move", "--salon", salon_id, "--phone", ALICE,
        "--code", code.lower(), "--at", f"{monday}T15:30",
    )  # fmt: skip
    day_slots = run_json(
        database_url, capsys, "slots", "--salon", salon_id, "--service", "manicure",
        "--date", monday.isoformat(), "--master", "anna",
    )  # fmt: skip
    cancelled = run_json(
        database_url, capsys, "bookings", "cancel", "--salon", salon_id, "--phone", ALICE,
        "--code", code,
    )  # fmt: skip
    history = run_json(
        database_url, capsys, "bookings", "list", "--salon", salon_id, "--phone", ALICE, "--all"
    )

    # Then each step shows the booking as it now is
    assert created["status"] == "confirmed" and created["price"] == "40.00"
    assert created["starts_at"].startswith(f"{monday}T11:00:00")
    assert isinstance(listed, list) and [b["code"] for b in listed] == [code]
    assert code_out == 0 and code in table and "Manicure" in table and "40.00 EUR" in table
    assert isinstance(moved, dict) and moved["starts_at"].startswith(f"{monday}T15:30:00")
    assert isinstance(day_slots, list)
    day_starts = {slot["starts_at"][11:16] for slot in day_slots}
    assert "11:00" in day_starts and "15:30" not in day_starts
    assert isinstance(cancelled, dict) and cancelled["status"] == "cancelled"
    assert isinstance(history, list) and [b["status"] for b in history] == ["cancelled"]
    assert run_json(database_url, capsys, "bookings", "--salon", salon_id, "--phone", ALICE) == []


def test_errors_exit_non_zero_with_a_message(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monday = next_monday()
    created = run_json(
        database_url, capsys, "bookings", "create", "--salon", salon_id, "--phone", ALICE,
        "--service", "manicure", "--at", f"{monday}T11:00", "--master", "anna",
    )  # fmt: skip
    assert isinstance(created, dict)

    outside = run(
        database_url, capsys, "bookings", "create", "--salon", salon_id, "--phone", BRUNO,
        "--service", "manicure", "--at", f"{monday}T20:00", "--master", "anna",
    )  # fmt: skip
    taken = run(
        database_url, capsys, "bookings", "create", "--salon", salon_id, "--phone", BRUNO,
        "--service", "manicure", "--at", f"{monday}T11:30", "--master", "anna",
    )  # fmt: skip
    not_yours = run(
        database_url, capsys, "bookings", "cancel", "--salon", salon_id, "--phone", BRUNO,
        "--code", created["code"],
    )  # fmt: skip
    bad_time = run(
        database_url, capsys, "bookings", "create", "--salon", salon_id, "--phone", BRUNO,
        "--service", "manicure", "--at", "next monday",
    )  # fmt: skip
    unknown_salon = run(
        database_url, capsys, "slots", "--salon", "3f0c1a52-0000-4000-8000-0000000000ff",
        "--service", "manicure", "--earliest",
    )  # fmt: skip
    no_salon = run(database_url, capsys, "bookings")

    assert outside[0] == 1 and "working hours" in outside[1]
    assert taken[0] == 1 and "already booked" in taken[1]
    assert not_yours[0] == 3 and "no booking" in not_yours[1]
    assert bad_time[0] == 2 and "at:" in bad_time[1]
    assert unknown_salon[0] == 3 and "no salon" in unknown_salon[1]
    assert no_salon[0] == 2 and "--salon" in no_salon[1]


def test_the_installed_command_prints_a_table(database_url: str, salon_id: str) -> None:
    monday = next_monday()

    result = subprocess.run(
        [
            sys.executable, "-m", "salonbot_dev.cli", "--database-url", database_url, "slots",
            "--salon", salon_id, "--service", "haircut", "--date", monday.isoformat(),
        ],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["starts", "ends", "master"]
    assert lines[1].startswith(f"{monday} 12:00 +0") and "Bob (bob)" in lines[1]


def test_a_username_customer_is_named_by_their_whatsapp_user_id(
    database_url: str, salon_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a customer WhatsApp names only by a business-scoped user id
    user_id = "DE.1502576394655843"
    monday = next_monday()

    # When an admin books, lists and forgets them by that id
    created = run_json(
        database_url, capsys, "bookings", "create", "--salon", salon_id, "--phone", user_id,
        "--service", "manicure", "--at", f"{monday} 11:00", "--master", "anna",
    )  # fmt: skip
    listed = run_json(database_url, capsys, "bookings", "--salon", salon_id, "--phone", user_id)
    code, out = run(database_url, capsys, "forget", "--salon", salon_id, "--phone", user_id)

    # Then the id is the client's key throughout
    assert isinstance(created, dict) and created["status"] == "confirmed"
    assert isinstance(listed, list) and [b["code"] for b in listed] == [created["code"]]
    assert code == 0, out
    assert run_json(database_url, capsys, "bookings", "--salon", salon_id, "--phone", user_id) == []


def test_mark_a_started_booking_arrived_or_not_come(
    database_url: str, db: Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import load_salon_file
    from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
    from tests.integration.staff.conftest import seed_booking

    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    code = seed_booking(db, DEMO_SALON_ID, starts_at=started, code="MARK01")
    assert run_json(database_url, capsys, "bookings", "mark", code, "--arrived")["status"] == (
        "arrived"
    )
    assert run_json(database_url, capsys, "bookings", "mark", code, "--no-show")["status"] == (
        "no_show"
    )
    db.rollback()
    status = db.execute("SELECT status FROM bookings WHERE code = %s", (code,)).fetchone()
    assert status == {"status": "no_show"}
    exit_code, out = run(database_url, capsys, "bookings", "mark", "NOPE99", "--arrived")
    assert exit_code == 3 and "no booking" in out
