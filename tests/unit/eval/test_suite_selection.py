"""Which tasks a run takes: unique ids across files, `--only`, and what a model customer
needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from salonbot.errors import InvalidInput
from salonbot_dev.eval.suite import EvalOptions, require_instructions, selected
from salonbot_dev.eval.tasks import validate_task_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "evals"


def _loaded(name: str, *tasks: dict[str, Any]) -> Any:
    data = {
        "salon": "../../../demo/salon.yaml",
        "now": "2030-01-07T09:00:00+03:00",
        "tasks": list(tasks),
    }
    return validate_task_file(data, FIXTURES / name)


def _task(task_id: str, **values: Any) -> dict[str, Any]:
    return {"id": task_id, "customer": {"phone": "+79990001111"}, "script": ["hi"], **values}


def test_only_picks_tasks_and_names_the_unknown() -> None:
    files = [_loaded("a.yaml", _task("a1"), _task("a2")), _loaded("b.yaml", _task("b1"))]
    assert [t.id for _, t in selected(files, [])] == ["a1", "a2", "b1"]
    assert [t.id for _, t in selected(files, ["b1", "a2"])] == ["a2", "b1"]
    with pytest.raises(InvalidInput, match="no such task: zz"):
        selected(files, ["zz"])


def test_an_id_in_two_files_is_refused() -> None:
    files = [_loaded("a.yaml", _task("same")), _loaded("b.yaml", _task("same"))]
    with pytest.raises(InvalidInput, match="'same' is also in"):
        selected(files, [])


def test_a_model_customer_needs_instructions() -> None:
    files = [_loaded("a.yaml", _task("scripted-only"), _task("told", instructions="Book."))]
    with pytest.raises(InvalidInput, match=r"a\.yaml: task scripted-only"):
        require_instructions(selected(files, []))
    require_instructions(selected(files, ["told"]))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (EvalOptions(engine="gpt"), "--engine"),
        (EvalOptions(user="human"), "--user"),
        (EvalOptions(trials=0), "--trials"),
        (EvalOptions(user="model"), "--user model"),
    ],
)
def test_bad_options_name_their_option(options: EvalOptions, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        options.check()
    assert caught.value.field == field
