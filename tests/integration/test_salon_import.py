"""`salonbot salon import`: create or update in one transaction; invalid files write nothing."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from salonbot.booking.catalog import load_salon, load_salon_by_phone_number_id
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file, validate_salon
from salonbot.db.connection import Connection
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID


def _demo_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO_SALON_FILE.read_text())
    return data


def test_import_creates_the_whole_salon(db: Connection) -> None:
    result = import_salon(db, load_salon_file(DEMO_SALON_FILE))

    salon = load_salon(db, DEMO_SALON_ID)
    assert result.created and result.revision == 1
    assert salon.name == "Nail Studio Aurora" and salon.timezone == "Europe/Moscow"
    assert set(salon.services) >= {"manicure", "pedicure", "haircut_men"}
    anna = salon.master("anna")
    assert [(s.start.isoformat(), s.end.isoformat()) for s in anna.shifts[1]] == [
        ("10:00:00", "14:00:00"),
        ("15:00:00", "20:00:00"),
    ]
    assert salon.service("manicure").id in anna.service_ids
    assert str(salon.service("manicure").price) == "1500.00"
    assert load_salon_by_phone_number_id(db, "100000000000001").id == DEMO_SALON_ID
    # names per language: the salon's own in `name`/`address`, the others beside them
    assert (anna.name, anna.display_name("en"), anna.display_name("de")) == ("Анна", "Anna", "Анна")
    assert salon.address == "Москва, Тверская ул., 1"
    assert salon.address_in("en") == "1 Tverskaya St, Moscow"
    assert salon.service("manicure").aliases["en"] == ("nails", "mani")


def test_reimport_updates_in_place_and_deactivates_what_was_removed(db: Connection) -> None:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    data = _demo_data()
    data["services"] = [s for s in data["services"] if s["code"] != "brows"]
    for master in data["masters"]:
        master["services"] = [c for c in master["services"] if c != "brows"]
    data["services"][0]["price"] = 1700
    data["masters"] = data["masters"][:3]

    result = import_salon(db, validate_salon(data))

    salon = load_salon(db, DEMO_SALON_ID)
    assert not result.created and result.revision == 2
    assert "brows" not in salon.services and "dmitry" not in salon.masters
    assert str(salon.service("manicure").price) == "1700.00"
    inactive = db.execute("SELECT code FROM services WHERE NOT active").fetchall()
    assert [r["code"] for r in inactive] == ["brows"]


def test_the_live_bookings_limit_is_stored_and_updated(db: Connection) -> None:
    # Given the demo salon imported (it says 3, the default)
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    assert load_salon(db, DEMO_SALON_ID).max_live_bookings_per_client == 3

    # When it is re-imported allowing 5, then without the key
    data = _demo_data()
    data["max_live_bookings_per_client"] = 5
    import_salon(db, validate_salon(data))
    allowed = load_salon(db, DEMO_SALON_ID).max_live_bookings_per_client
    del data["max_live_bookings_per_client"]
    import_salon(db, validate_salon(data))

    # Then the salon allows 5, then the default again
    assert allowed == 5
    assert load_salon(db, DEMO_SALON_ID).max_live_bookings_per_client == 3


def test_the_customer_daily_budget_is_stored_and_cleared_on_reimport(db: Connection) -> None:
    # Given a salon file naming a customer's daily share of the model budget
    data = _demo_data()
    data["customer_daily_budget_usd"] = 0.35
    import_salon(db, validate_salon(data))
    assert str(load_salon(db, DEMO_SALON_ID).customer_daily_budget_usd) == "0.3500"
    # When the key is removed, the salon is back to the default share
    del data["customer_daily_budget_usd"]
    import_salon(db, validate_salon(data))
    assert load_salon(db, DEMO_SALON_ID).customer_daily_budget_usd is None


def test_failed_import_writes_nothing(db: Connection) -> None:
    data = copy.deepcopy(_demo_data())
    data["masters"][1]["code"] = data["masters"][0]["code"].upper()  # violates the code pattern

    with pytest.raises(Exception):  # noqa: B017 - validation error type is asserted in unit tests
        import_salon(db, validate_salon(data))

    assert db.execute("SELECT count(*) AS n FROM salons").fetchone() == {"n": 0}


def test_database_error_mid_import_rolls_back_everything(db: Connection) -> None:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    data = _demo_data()
    data["name"] = "Renamed"
    data["whatsapp_phone_number_id"] = "100000000000999"
    other = _demo_data()
    other["id"] = "3f0c1a52-0000-4000-8000-0000000000ff"
    other["whatsapp_phone_number_id"] = "100000000000999"
    import_salon(db, validate_salon(other))

    with pytest.raises(Exception, match="whatsapp_phone_number_id"):
        import_salon(db, validate_salon(data))  # the phone number id is taken: unique violation

    db.rollback()
    assert load_salon(db, DEMO_SALON_ID).name == "Nail Studio Aurora"


def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salonbot_dev.cli", "--database-url", url, *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_import_reports_the_bad_field_and_exit_code(
    db: Connection, database_url: str, tmp_path: Path
) -> None:
    data = _demo_data()
    data["masters"][0]["working_hours"]["tue"] = ["10:00-14:00", "12:00-16:00"]
    bad = tmp_path / "salon.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True))

    failed = _cli("salon", "import", str(bad), url=database_url)
    ok = _cli("salon", "import", str(DEMO_SALON_FILE), "--json", url=database_url)

    assert failed.returncode == 2
    assert "masters[0].working_hours" in failed.stderr and "overlaps" in failed.stderr
    assert ok.returncode == 0, ok.stderr
    assert str(DEMO_SALON_ID) in ok.stdout
