"""The salon file: every invalid input is rejected with a message naming the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from salonbot.booking.salon_file import load_salon_file, parse_time_range, validate_salon
from salonbot.errors import InvalidInput
from tests.conftest import DEMO_SALON_FILE


@pytest.fixture
def demo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO_SALON_FILE.read_text())
    return data


def test_demo_salon_file_is_valid() -> None:
    salon = load_salon_file(DEMO_SALON_FILE)

    assert salon.name == "Nail Studio Aurora"
    assert len(salon.masters) >= 3 and len(salon.services) >= 6
    assert all({"ru", "en"} <= set(s.name) for s in salon.services)
    anna = salon.masters[0]
    monday = anna.shifts()[1]
    assert [str(r) for r in monday] == ["10:00-14:00", "15:00-20:00"]  # a split shift


def test_json_file_is_accepted(tmp_path: Path, demo: dict[str, Any]) -> None:
    file = tmp_path / "salon.json"
    file.write_text(json.dumps(demo, default=str))

    assert load_salon_file(file).timezone == "Europe/Moscow"


def _mutated(demo: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(demo)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (["colour"], "pink", "colour", "unknown key"),
        (["services", 0, "colour"], "pink", "services[0].colour", "unknown key"),
        (["timezone"], "Mars/Olympus", "timezone", "IANA"),
        (
            ["masters", 0, "working_hours", "mon"],
            ["10:00-14:00", "13:00-18:00"],
            "masters[0].working_hours",
            "overlaps",
        ),
        (
            ["masters", 0, "working_hours", "mon"],
            ["14:00-10:00"],
            "masters[0].working_hours",
            "ends before it starts",
        ),
        (
            ["masters", 0, "working_hours", "mon"],
            ["25:00-26:00"],
            "masters[0].working_hours",
            "not a valid time",
        ),
        (
            ["masters", 0, "working_hours", "funday"],
            ["10:00-12:00"],
            "masters[0].working_hours",
            "not a weekday",
        ),
        (
            ["masters", 1, "services"],
            ["manicure", "laser_tattoo"],
            "masters[1].services[1]",
            "unknown service code",
        ),
        (["services", 1, "code"], "manicure", "services[1].code", "duplicate"),
        (["services", 0, "duration_minutes"], 0, "services[0].duration_minutes", "greater"),
        (["services", 0, "price"], -5, "services[0].price", "greater"),
        (["currency"], "rubles", "currency", "pattern"),
        (["masters", 0, "days_off"], ["2026-02-30"], "masters[0].days_off[0]", "date"),
        (["slot_step_minutes"], 1, "slot_step_minutes", "greater"),
        (["max_live_bookings_per_client"], 0, "max_live_bookings_per_client", "greater"),
        (["max_live_bookings_per_client"], 101, "max_live_bookings_per_client", "less"),
        (["max_live_bookings_per_client"], "many", "max_live_bookings_per_client", "integer"),
        (["max_live_bookings_per_client"], 2.5, "max_live_bookings_per_client", "integer"),
        (["customer_daily_budget_usd"], -1, "customer_daily_budget_usd", "greater"),
        (["customer_daily_budget_usd"], "lots", "customer_daily_budget_usd", "decimal"),
        (["customer_daily_budget_usd"], 6, "customer_daily_budget_usd", "daily_budget_usd"),
        (["services", 0, "aliases"], {"russian": ["ногти"]}, "services[0].aliases", "two-letter"),
        (["services", 0, "aliases"], {"ru": ["x"]}, "services[0].aliases.ru[0]", "at least 2"),
        (["services", 0, "aliases"], {"ru": "ногти"}, "services[0].aliases.ru", "list"),
        (["services", 0, "aliases"], {"ru": ["ab"] * 31}, "services[0].aliases", "at most 30"),
        (["masters", 0, "name"], {}, "masters[0].name", "at least one language"),
        (["masters", 0, "name"], {"english": "Anna"}, "masters[0].name", "two-letter"),
        (["address"], {"en": "x" * 501}, "address.en", "at most 500"),
        (["address"], "x" * 501, "address", "at most 500"),
        (["services", 0, "resource"], "chair", "services[0].resource", "unknown resource"),
        (["resources"], [{"code": "chair", "capacity": 0}], "resources[0].capacity", "greater"),
        (
            ["resources"],
            [{"code": "chair", "capacity": 2}, {"code": "chair", "capacity": 1}],
            "resources[1].code",
            "duplicate",
        ),
        (["services", 0, "finishing_minutes"], 20, "services[0].finishing_minutes", "needs"),
        (["services", 0, "processing_minutes"], 60, "services[0].processing_minutes", "shorter"),
        (["cancel_notice_minutes"], -1, "cancel_notice_minutes", "greater"),
        (["move_notice_minutes"], "soon", "move_notice_minutes", "integer"),
    ],
)
def test_invalid_input_names_the_field(
    demo: dict[str, Any], path: list[Any], value: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_salon(_mutated(demo, path, value))

    assert error.value.field == field
    assert message in error.value.detail


def test_live_bookings_per_client_default_to_three(demo: dict[str, Any]) -> None:
    assert validate_salon(demo).max_live_bookings_per_client == 3  # the demo file says so
    del demo["max_live_bookings_per_client"]
    assert validate_salon(demo).max_live_bookings_per_client == 3
    demo["max_live_bookings_per_client"] = 1
    assert validate_salon(demo).max_live_bookings_per_client == 1


def test_missing_required_field_is_named(demo: dict[str, Any]) -> None:
    del demo["masters"]

    with pytest.raises(InvalidInput) as error:
        validate_salon(demo)

    assert error.value.field == "masters"


@pytest.mark.parametrize("text", ["not: [valid", "- just\n- a list"])
def test_unparseable_or_non_mapping_file(tmp_path: Path, text: str) -> None:
    file = tmp_path / "salon.yaml"
    file.write_text(text)

    with pytest.raises(InvalidInput) as error:
        load_salon_file(file)

    assert error.value.field in {"file", "salon"}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_salon_file(tmp_path / "nope.yaml")


def test_time_range_until_midnight() -> None:
    assert str(parse_time_range("18:00-24:00")).startswith("18:00-23:59")


def test_the_customer_daily_budget_is_optional(demo: dict[str, Any]) -> None:
    assert validate_salon(demo).customer_daily_budget_usd is None
    demo["customer_daily_budget_usd"] = 0.25
    assert str(validate_salon(demo).customer_daily_budget_usd) == "0.25"


def test_names_per_language_and_aliases_are_optional_and_plain_strings_still_work(
    demo: dict[str, Any],
) -> None:
    from salonbot.booking.salon_file import in_language, per_language

    plain = _mutated(_mutated(demo, ["masters", 0, "name"], "Анна"), ["address"], "Москва")
    plain["services"][0].pop("aliases", None)

    salon = validate_salon(plain)
    localized = load_salon_file(DEMO_SALON_FILE)

    assert salon.masters[0].name == "Анна" and per_language(salon.masters[0].name) == {}
    assert salon.services[0].aliases == {}
    assert in_language(localized.masters[0].name, "en") == "Anna"
    assert in_language(localized.masters[0].name, "de") == "Анна"  # the first given
    assert localized.services[0].aliases["ru"][0] == "ноготочки"
