"""The salon file's outbound fields: reminders, quiet hours, templates, the WABA id."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from salonbot.booking.salon_file import validate_salon
from salonbot.errors import InvalidInput
from tests.conftest import DEMO_SALON_FILE

TEMPLATE = {
    "purpose": "reminder",
    "name": "visit_reminder",
    "language": "ru",
    "body": "Напоминаем: {{1}} в {{2}}",
    "body_parameters": ["service", "start_time"],
    "buttons": ["confirm", "cancel"],
}


@pytest.fixture
def demo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO_SALON_FILE.read_text())
    return data


def with_(demo: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(demo)
    data.update(fields)
    return data


def test_outbound_fields_are_optional_with_defaults(demo: dict[str, Any]) -> None:
    for key in ("reminders", "quiet_hours", "whatsapp_templates", "feedback_after_minutes"):
        demo.pop(key, None)
    salon = validate_salon(with_(demo))
    assert salon.reminders == [] and salon.quiet_hours is None
    assert salon.whatsapp_templates == [] and salon.whatsapp_business_account_id is None
    assert salon.feedback_after_minutes == 120
    assert validate_salon(with_(demo, feedback_after_minutes=None)).feedback_after_minutes is None


def test_a_full_outbound_setup_is_accepted(demo: dict[str, Any]) -> None:
    salon = validate_salon(
        with_(
            demo,
            reminders=[{"before_minutes": 1440}, {"before_minutes": 120}],
            quiet_hours={"start": "21:00", "end": "09:00"},
            whatsapp_business_account_id="102290129340398",
            whatsapp_templates=[TEMPLATE, {**TEMPLATE, "language": "en_US"}],
        )
    )
    assert [r.before_minutes for r in salon.reminders] == [1440, 120]
    assert salon.whatsapp_templates[1].base_language == "en"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"reminders": [{"before_minutes": 5}]}, "reminders[0].before_minutes", "greater"),
        ({"feedback_after_minutes": 5}, "feedback_after_minutes", "greater"),
        (
            {"reminders": [{"before_minutes": 60}, {"before_minutes": 60}]},
            "reminders[1].before_minutes",
            "duplicate",
        ),
        ({"reminders": [{"before_minutes": 60, "at": 1}]}, "reminders[0].at", "unknown key"),
        ({"quiet_hours": {"start": "9pm", "end": "09:00"}}, "quiet_hours.start", "time of day"),
        ({"quiet_hours": {"start": "09:00", "end": "09:00"}}, "quiet_hours.end", "differ"),
        ({"whatsapp_business_account_id": "waba"}, "whatsapp_business_account_id", "pattern"),
        (
            {"whatsapp_templates": [{**TEMPLATE, "purpose": "birthday"}]},
            "whatsapp_templates[0].purpose",
            "reminder",
        ),
        (
            {"whatsapp_templates": [{**TEMPLATE, "name": "Visit Reminder"}]},
            "whatsapp_templates[0].name",
            "pattern",
        ),
        (
            {"whatsapp_templates": [{**TEMPLATE, "body_parameters": ["service", "price"]}]},
            "whatsapp_templates[0].body_parameters[1]",
            "start_date",
        ),
        (
            {"whatsapp_templates": [{**TEMPLATE, "body_parameters": ["service"]}]},
            "whatsapp_templates[0]",
            "placeholders",
        ),
        (
            {"whatsapp_templates": [{**TEMPLATE, "buttons": ["confirm", "confirm"]}]},
            "whatsapp_templates[0]",
            "at most once",
        ),
        (
            {"whatsapp_templates": [{**TEMPLATE, "category": "marketing"}]},
            "whatsapp_templates[0]",
            "utility",
        ),
        (
            {"whatsapp_templates": [TEMPLATE, {**TEMPLATE, "name": "other"}]},
            "whatsapp_templates[1]",
            "second reminder template in ru",
        ),
    ],
)
def test_bad_outbound_fields_name_the_field(
    demo: dict[str, Any], fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_salon(with_(demo, **fields))
    assert error.value.field == field
    assert message in error.value.detail
