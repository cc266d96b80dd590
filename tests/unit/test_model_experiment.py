"""Model experiments: the salon file's arms are validated, and conversations split over
them by weight, stably, in every container."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
import yaml

from salonbot.booking.salon_file import validate_salon
from salonbot.errors import InvalidInput
from salonbot.experiment import Arm, ModelExperiment, arm_for, hashed_arm
from tests.conftest import DEMO_SALON_FILE

CONVERSATIONS = [f"conv_salon_7900{n:07d}" for n in range(20_000)]
A = Arm("a", "gpt-4o-mini", 1.0)
B = Arm("b", "gpt-4.1-mini", 1.0, temperature=0.2)


def _demo(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO_SALON_FILE.read_text())
    data.update(copy.deepcopy(overrides))
    return data


def test_the_experiment_is_optional_and_kept_as_written() -> None:
    assert validate_salon(_demo()).model_experiment is None
    arms = [
        {"id": "mini", "model": "gpt-4o-mini", "weight": 3},
        {"id": "big", "model": "gpt-4.1", "weight": 1, "temperature": 0.2},
    ]
    experiment = validate_salon(_demo(model_experiment={"arms": arms})).model_experiment
    assert experiment is not None
    stored = ModelExperiment.from_json(experiment.model_dump(mode="json"))
    assert stored == ModelExperiment(
        (Arm("mini", "gpt-4o-mini", 3.0), Arm("big", "gpt-4.1", 1.0, 0.2))
    )


@pytest.mark.parametrize(
    ("arms", "field", "message"),
    [
        ([], "model_experiment.arms", "at least 1"),
        (
            [{"id": "a", "model": "gpt-4o", "weight": 0}],
            "model_experiment.arms[0].weight",
            "greater",
        ),
        (
            [{"id": "a", "model": "gpt-4o", "weight": -1}],
            "model_experiment.arms[0].weight",
            "greater",
        ),
        ([{"id": "a", "model": " ", "weight": 1}], "model_experiment.arms[0].model", "at least 1"),
        ([{"id": "a", "weight": 1}], "model_experiment.arms[0].model", "required"),
        (
            [{"id": "a", "model": "gpt-4o", "weight": 1, "temperature": 2.5}],
            "model_experiment.arms[0].temperature",
            "less than or equal to 2",
        ),
        (
            [{"id": "a", "model": "gpt-4o", "weight": 1, "temperature": -0.1}],
            "model_experiment.arms[0].temperature",
            "greater than or equal to 0",
        ),
        (
            [{"id": "a", "model": "gpt-4o", "weight": 1}, {"id": "a", "model": "x", "weight": 1}],
            "model_experiment.arms[1].id",
            "duplicate arm id 'a'",
        ),
        ([{"id": "A b", "model": "gpt-4o", "weight": 1}], "model_experiment.arms[0].id", "pattern"),
        (
            [{"id": "a", "model": "m", "weight": 1, "seed": 3}],
            "model_experiment.arms[0].seed",
            "unknown",
        ),
    ],
)
def test_a_bad_arm_is_refused_naming_its_field(
    arms: list[dict[str, Any]], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_salon(_demo(model_experiment={"arms": arms}))
    assert error.value.field == field
    assert message in error.value.detail


def test_conversations_split_by_weight() -> None:
    # Given arms weighted 3:1
    arms = (Arm("mini", "gpt-4o-mini", 3.0), Arm("big", "gpt-4.1", 1.0))
    # When 20,000 conversations are assigned
    counts = Counter(hashed_arm(arms, c).id for c in CONVERSATIONS)
    # Then each arm gets its share (binomial sd here is ~0.3 percentage points)
    assert counts["mini"] / len(CONVERSATIONS) == pytest.approx(0.75, abs=0.015)
    assert counts["big"] / len(CONVERSATIONS) == pytest.approx(0.25, abs=0.015)


def test_a_conversation_always_gets_the_same_arm_whatever_the_arm_order() -> None:
    first = [hashed_arm((A, B), c).id for c in CONVERSATIONS[:500]]
    assert first == [hashed_arm((A, B), c).id for c in CONVERSATIONS[:500]]
    assert first == [hashed_arm((B, A), c).id for c in CONVERSATIONS[:500]]


def test_the_arm_is_the_same_in_another_process() -> None:
    # Python's str hash differs per process; the assignment must not.
    sample = CONVERSATIONS[:200]
    here = "".join(hashed_arm((A, B), c).id for c in sample)
    code = (
        "from salonbot.experiment import Arm, hashed_arm\n"
        "arms = (Arm('a', 'x', 1.0), Arm('b', 'y', 1.0))\n"
        f"print(''.join(hashed_arm(arms, c).id for c in {sample!r}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(sys.path)}
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert there == here


def test_adding_an_arm_moves_only_the_conversations_it_takes() -> None:
    # Given two equal arms, then a third one added at the end with the same weight
    before = {c: hashed_arm((A, B), c).id for c in CONVERSATIONS}
    after = {c: hashed_arm((A, B, Arm("c", "gpt-4.1", 1.0)), c).id for c in CONVERSATIONS}
    moved = [c for c in CONVERSATIONS if before[c] != after[c]]
    # Then every moved conversation went to the new arm, about a third of them
    assert {after[c] for c in moved} == {"c"}
    assert len(moved) / len(CONVERSATIONS) == pytest.approx(1 / 3, abs=0.015)


def test_a_stored_arm_wins_over_changed_weights_until_it_is_removed() -> None:
    conversation = next(c for c in CONVERSATIONS if hashed_arm((A, B), c).id == "a")
    # Weights now favour b overwhelmingly: the stored arm still holds
    reweighted = ModelExperiment((Arm("a", "gpt-4o-mini", 0.001), Arm("b", "gpt-4.1", 1000.0)))
    assert arm_for(reweighted, conversation, stored="a").id == "a"
    # Without a stored arm the hash decides; an arm that is gone is not kept
    assert arm_for(ModelExperiment((B,)), conversation, stored="a") == B
    assert arm_for(ModelExperiment((A, B)), conversation, stored=None) == A


def test_an_arms_requests_are_shaped_and_priced_for_its_own_model() -> None:
    from decimal import Decimal

    from salonbot.assistant.model_params import CompletionShape
    from salonbot.config import Settings
    from salonbot.cost.pricing import MOST_EXPENSIVE, PRICES, model_quote

    settings = Settings(
        openai_model="house-model",
        openai_temperature=0.7,
        openai_price_input_per_mtok=Decimal("0.01"),
        openai_price_output_per_mtok=Decimal("0.02"),
    )
    # A chat model gets the arm's temperature; a reasoning model none, and its own limit
    assert CompletionShape.for_model(settings, "gpt-4.1", 0.2).params(100) == {
        "max_tokens": 100,
        "temperature": 0.2,
    }
    assert CompletionShape.for_model(settings, "gpt-4.1").temperature == 0.7
    reasoning = CompletionShape.for_model(settings, "o4-mini", 0.2)
    assert reasoning.reasoning and "temperature" not in reasoning.params(100)
    assert reasoning.max_tokens == settings.openai_reasoning_max_tokens
    # The configured rates price OPENAI_MODEL only; another unknown model the dearest rate
    assert model_quote(settings, "house-model").price.input == Decimal("0.01")
    assert model_quote(settings, "other-model").price == MOST_EXPENSIVE
    assert model_quote(settings, "gpt-4.1").price == PRICES["gpt-4.1"]
