"""The task file: validated with errors naming the file, the task and the field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from salonbot.errors import InvalidInput
from salonbot_dev.eval.tasks import Tap, load_task_file, task_files, validate_task_file

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "evals"


def _file(**task: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "t1",
        "customer": {"phone": "+79990001111"},
        "script": ["Привет"],
    }
    base.update(task)
    return {
        "salon": "../../../demo/salon.yaml",
        "now": "2030-01-07T09:00:00+03:00",
        "tasks": [base],
    }


def _validate(data: dict[str, Any]) -> Any:
    return validate_task_file(data, FIXTURES / "x.yaml")


def test_the_fixture_file_loads_with_taps_and_windows() -> None:
    loaded = load_task_file(FIXTURES / "demo.yaml")
    task = loaded.tasks[0]
    assert task.id == "book-manicure-afternoon"
    assert task.script[1] == Tap(tap="^1[5-9]:")
    window = task.expect.bookings[0]  # type: ignore[index]
    assert window.start_after == dt.datetime(2030, 1, 8, 15, 0)
    assert loaded.salon_path == REPO / "demo" / "salon.yaml"
    assert loaded.language_of(task) == "ru"  # the file's default


@pytest.mark.parametrize(
    ("task", "where"),
    [
        ({"customer": {"phone": "12"}}, "task t1: customer.phone"),
        ({"script": [{"tap": "(unclosed"}]}, "task t1: script[0].tap"),
        ({"script": [{"say": "hi"}]}, "task t1: script[0]"),
        (
            {"expect": {"bookings": [{"service": "x", "start": "soon"}]}},
            "task t1: expect.bookings[0].start",
        ),
        ({"expect": {"handof": True}}, "task t1: expect.handof"),
        ({"expect": {"mentions": ["[A-Z"]}}, "task t1: expect.mentions[0]"),
        ({"script": [], "instructions": ""}, "task t1: task"),
        (
            {
                "expect": {
                    "bookings": [
                        {
                            "service": "x",
                            "start": "2030-01-08T10:00",
                            "start_after": "2030-01-08T09:00",
                        }
                    ]
                }
            },
            "task t1: expect.bookings[0]",
        ),
    ],
)
def test_a_bad_task_names_its_task_and_field(task: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _validate(_file(**task))
    assert f"x.yaml: {where}" in str(caught.value)


def test_a_task_without_an_id_is_named_by_its_position() -> None:
    data = _file()
    del data["tasks"][0]["id"]
    with pytest.raises(InvalidInput, match=r"tasks\[0\]: id"):
        _validate(data)


def test_two_tasks_with_one_id_are_refused() -> None:
    data = _file()
    data["tasks"].append(dict(data["tasks"][0]))
    with pytest.raises(InvalidInput, match="appears twice"):
        _validate(data)


def test_a_missing_salon_file_is_named() -> None:
    data = _file()
    data["salon"] = "nowhere.yaml"
    with pytest.raises(InvalidInput, match=r"x\.yaml: salon: no salon file"):
        _validate(data)


def test_not_yaml_and_not_a_mapping_are_clear(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("tasks: [\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_task_file(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n")
    with pytest.raises(InvalidInput, match="must be a mapping"):
        load_task_file(listed)


def test_folders_give_their_yaml_files_sorted(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "notes.md"):
        (tmp_path / name).write_text("")
    assert [p.name for p in task_files([tmp_path])] == ["a.yml", "b.yaml"]
    with pytest.raises(InvalidInput, match="no such file"):
        task_files([tmp_path / "missing"])
