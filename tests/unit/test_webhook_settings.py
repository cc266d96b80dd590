"""The webhook's pydantic-free settings agree with `salonbot.config.Settings`, the one
definition of every setting: same names, defaults and bounds, and the same values read
from the same environment (or both refusing it)."""

from __future__ import annotations

import typing
from typing import Any

import annotated_types
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from salonbot.config import Settings
from salonbot.errors import ConfigurationError
from salonbot.inbound.settings import BOUNDS, WebhookSettings

FIELDS = list(WebhookSettings._fields)


def test_every_field_is_a_setting_with_the_same_default_and_type() -> None:
    types = typing.get_type_hints(WebhookSettings)
    for name in FIELDS:
        declared = Settings.model_fields[name]
        assert WebhookSettings._field_defaults[name] == declared.default, name
        assert types[name] == declared.annotation, name


def _declared_bounds(name: str) -> tuple[int | None, int | None]:
    low = high = None
    for constraint in Settings.model_fields[name].metadata:
        if isinstance(constraint, annotated_types.Ge):
            low = constraint.ge
        elif isinstance(constraint, annotated_types.Le):
            high = constraint.le
        else:
            pytest.fail(f"{name}: a bound the webhook does not check: {constraint}")
    return low, high


def test_bounds_are_those_settings_declares() -> None:
    types = typing.get_type_hints(WebhookSettings)
    integers = [name for name in FIELDS if types[name] is int]
    assert sorted(BOUNDS) == sorted(integers)
    for name in integers:
        assert BOUNDS[name] == _declared_bounds(name), name


def test_defaults_with_an_empty_environment() -> None:
    assert WebhookSettings.from_env({}) == WebhookSettings()
    settings = Settings.from_env({})
    assert WebhookSettings.from_env({}) == WebhookSettings(
        **{name: getattr(settings, name) for name in FIELDS}
    )


def test_names_in_any_case_and_empty_values_as_unset() -> None:
    env = {
        "QUEUE_URL": "https://sqs/q.fifo",
        "idempotency_table": "seen",
        "WHATSAPP_APP_SECRET": "",
        "Max_Message_Age_S": " 3_600 ",
        "WEBHOOK_MAX_BODY_BYTES": "2048.0",
        "UNRELATED": "x",
    }
    settings = WebhookSettings.from_env(env)
    assert (settings.queue_url, settings.idempotency_table) == ("https://sqs/q.fifo", "seen")
    assert settings.whatsapp_app_secret is None
    assert (settings.max_message_age_s, settings.webhook_max_body_bytes) == (3600, 2048)
    assert_same_as_settings(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_MESSAGE_AGE_S", "59"),
        ("MAX_MESSAGE_AGE_S", "a day"),
        ("WEBHOOK_MAX_BODY_BYTES", str(6 * 1024 * 1024 + 1)),
        ("WEBHOOK_MAX_BODY_BYTES", "1023"),
        ("WEBHOOK_DEDUPE_TTL_S", "3600"),
        ("WEBHOOK_DEDUPE_TTL_S", "1e6"),
    ],
)
def test_an_invalid_value_is_a_clear_configuration_error(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        WebhookSettings.from_env({name: value})
    with pytest.raises(ValidationError):
        Settings.from_env({name: value})


def assert_same_as_settings(env: dict[str, str]) -> None:
    try:
        expected: Any = Settings.from_env(env)
    except ValidationError:
        with pytest.raises(ConfigurationError):
            WebhookSettings.from_env(env)
        return
    assert WebhookSettings.from_env(env) == WebhookSettings(
        **{name: getattr(expected, name) for name in FIELDS}
    )


NAMES = st.sampled_from(FIELDS).flatmap(
    lambda name: st.sampled_from([name, name.upper(), name.title()])
)
VALUES = st.one_of(
    st.sampled_from(["", " ", "60", "86400", "1024", "6291456", "6291457", "+100_000", "7.00"]),
    st.integers(-10, 10**8).map(str),
    st.text(max_size=12),
)


@given(st.dictionaries(NAMES, VALUES, max_size=6))
def test_any_environment_reads_as_settings_reads_it(env: dict[str, str]) -> None:
    assert_same_as_settings(env)
