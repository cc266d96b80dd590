"""Model experiments per salon: which arm (model, temperature) answers a conversation.

A salon file's `model_experiment` lists arms with weights. A conversation gets its arm by
weighted rendezvous hashing of its id: every arm scores `-weight / ln(u)`, with `u` in
(0, 1) from SHA-256 of the conversation id and the arm id, and the highest score wins.
Each arm wins a share of conversations equal to its share of the weights, the same
conversation always lands on the same arm in every container (no state, no random seed),
and adding an arm moves only the conversations the new arm wins (its share), never one
between two old arms. The arm chosen is stored on the conversation on its first turn
(`ai_conversations.experiment_arm`), so later weight changes do not move running
conversations either; only removing its arm gives a conversation a new one."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_SCALE = float(2**64)


@dataclass(frozen=True)
class Arm:
    id: str
    model: str
    weight: float
    temperature: float | None = None  # None: OPENAI_TEMPERATURE


@dataclass(frozen=True)
class ModelExperiment:
    arms: tuple[Arm, ...]

    def arm(self, arm_id: str | None) -> Arm | None:
        return next((a for a in self.arms if a.id == arm_id), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "arms": [
                {"id": a.id, "model": a.model, "weight": a.weight, "temperature": a.temperature}
                for a in self.arms
            ]
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ModelExperiment | None:
        """The stored form (`salons.model_experiment`); None without arms."""
        if not data or not data.get("arms"):
            return None
        return cls(
            arms=tuple(
                Arm(
                    id=str(item["id"]),
                    model=str(item["model"]),
                    weight=float(item["weight"]),
                    temperature=(
                        float(item["temperature"]) if item.get("temperature") is not None else None
                    ),
                )
                for item in data["arms"]
            )
        )


def _unit(conversation_id: str, arm_id: str) -> float:
    """A uniform number in (0, 1), the same for the same pair everywhere."""
    digest = hashlib.sha256(f"{conversation_id}\x00{arm_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / _SCALE


def hashed_arm(arms: Iterable[Arm], conversation_id: str) -> Arm:
    """The arm weighted rendezvous hashing gives `conversation_id`."""
    best: Arm | None = None
    best_score = -math.inf
    for arm in arms:
        score = -arm.weight / math.log(_unit(conversation_id, arm.id))
        if score > best_score:
            best, best_score = arm, score
    if best is None:
        raise ValueError("an experiment needs at least one arm")
    return best


def arm_for(experiment: ModelExperiment, conversation_id: str, stored: str | None) -> Arm:
    """The conversation's arm: the one stored on it while the experiment still has it,
    else the hashed one."""
    return experiment.arm(stored) or hashed_arm(experiment.arms, conversation_id)
