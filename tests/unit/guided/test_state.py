"""The saved dialogue state: the JSON the flow has always stored still loads, what it
stores now loads back the same, and a state of another version, too old or not of this
shape starts the customer afresh."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from salonbot.assistant.guided import STATE_VERSION, GuidedState
from salonbot.assistant.guided.state import load_state
from tests.unit.guided.chat import MOSCOW, NOW, STATE_TTL, TUESDAY

# A state as the flow stored it before the state was a model: a move at its confirmation.
STORED: dict[str, Any] = {
    "v": 1,
    "at": "2030-01-07T06:00:00+00:00",
    "lang": "ru",
    "step": "confirm",
    "flow": "move",
    "booking": "A7K2QX",
    "booking_id": 17,
    "service": "manicure",
    "master": "anna",
    "day": "2030-01-08",
    "page": 0,
    "after": "13:00",
    "before": None,
    "start": "2030-01-08T15:00:00+03:00",
    "slot_master": "anna",
    "options": [
        ["ok:2030-01-08T15:00:00+03:00|anna", "Подтвердить"],
        ["otherday:", "Другое время"],
        ["no", "Оставить как есть"],
    ],
}


def test_a_state_stored_in_the_old_shape_loads_with_its_types() -> None:
    state, expired = load_state(STORED, NOW, STATE_TTL)

    assert not expired
    assert (state.step, state.flow, state.booking, state.booking_id) == (
        "confirm",
        "move",
        "A7K2QX",
        17,
    )
    assert state.day == TUESDAY
    assert state.after == dt.time(13, 0) and state.before is None
    assert state.start == dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW)
    assert state.options[0] == ("ok:2030-01-08T15:00:00+03:00|anna", "Подтвердить")


def test_what_is_stored_has_the_old_shape_and_loads_back_the_same() -> None:
    state, _ = load_state(STORED, NOW, STATE_TTL)

    stored = state.to_json(at=NOW, language="ru")

    assert stored == {
        **{k: v for k, v in STORED.items() if v not in (None, 0)},  # unset: left out
        "at": "2030-01-07T09:00:00+03:00",
    }
    loaded, expired = load_state(stored, NOW, STATE_TTL)
    assert not expired and loaded.at == NOW
    assert loaded.model_dump(exclude={"at"}) == state.model_dump(exclude={"at"})


def test_times_are_stored_to_the_minute_and_instants_with_their_offset() -> None:
    state = GuidedState(
        step="time",
        wanted=dt.time(15, 0),
        start=dt.datetime(2030, 1, 8, 12, 0, tzinfo=dt.UTC),
    )

    stored = state.to_json(at=NOW, language="en")

    assert stored["wanted"] == "15:00"
    assert stored["start"] == "2030-01-08T12:00:00+00:00"  # never "Z": option ids carry it
    assert (stored["v"], stored["lang"]) == (STATE_VERSION, "en")


def test_a_state_without_a_step_is_a_new_dialogue_not_an_expired_one() -> None:
    assert load_state({}, NOW, STATE_TTL) == (GuidedState(), False)
    # what the flow stores after a booking: no question open
    assert load_state({"v": 1, "at": STORED["at"], "lang": "ru"}, NOW, STATE_TTL) == (
        GuidedState(),
        False,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"v": 0},
        {"v": STATE_VERSION + 1},
        {"v": None},
        {"at": None},
        {"at": "yesterday"},
        {"at": "2030-01-07T09:00:00"},  # no offset: not a time the flow wrote
        {"step": "somewhere"},
        {"flow": "teleport"},
        {"day": "Tuesday"},
        {"booking_id": "seventeen"},
        {"options": [["only an id"]]},
    ],
    ids=repr,
)
def test_another_version_or_shape_starts_afresh_and_says_so(change: dict[str, Any]) -> None:
    assert load_state({**STORED, **change}, NOW, STATE_TTL) == (GuidedState(), True)


def test_a_state_older_than_the_ttl_expires() -> None:
    saved = GuidedState(step="confirm", service="manicure").to_json(at=NOW, language="ru")

    assert load_state(saved, NOW + STATE_TTL, STATE_TTL)[1] is False
    assert load_state(saved, NOW + STATE_TTL + dt.timedelta(seconds=1), STATE_TTL) == (
        GuidedState(),
        True,
    )


def test_clear_and_forget_go_back_to_the_defaults() -> None:
    state, _ = load_state(STORED, NOW, STATE_TTL)

    state.forget("day", "page", "options")
    assert (state.day, state.page, state.options, state.service) == (None, 0, [], "manicure")
    state.clear()
    assert state == GuidedState()
