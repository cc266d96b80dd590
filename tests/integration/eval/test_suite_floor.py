"""CI's guard on the evaluation suite: the guided engine with the scripted customer over
every task file in evals/tasks/ scores at least the floor in evals/floor.yaml. While the
folder holds no task file, the evaluation's own fixture tasks must all pass instead."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from salonbot.config import Settings
from salonbot_dev.eval.suite import EvalOptions, evaluate
from salonbot_dev.eval.tasks import load_tasks, task_files
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

SUITE = REPO_ROOT / "evals" / "tasks"
FLOOR_FILE = REPO_ROOT / "evals" / "floor.yaml"
FIXTURE_TASKS = REPO_ROOT / "tests" / "fixtures" / "evals" / "demo.yaml"


def guided_floor(path: Path = FLOOR_FILE) -> float:
    data = yaml.safe_load(path.read_text())
    floor = data["guided_pass_1"]
    assert isinstance(floor, int | float) and 0.0 <= floor <= 1.0, f"{path}: guided_pass_1"
    return float(floor)


def test_the_guided_engine_keeps_its_floor_on_the_suite(database_url: str) -> None:
    # Given the suite's task files (or, while there are none, the fixture tasks)
    files = task_files([SUITE]) if SUITE.is_dir() else []
    floor = guided_floor() if files else 1.0
    loaded = load_tasks(list(files) or [FIXTURE_TASKS])
    # When the guided engine runs every task once with the scripted customer
    report = evaluate(
        loaded, EvalOptions(engine="guided", user="scripted"), Settings(), server_url=database_url
    )
    # Then pass^1 is at least the floor, and no trial spent a token
    failures = [
        f"{task.id}: {'; '.join(task.trials[0].reasons)}"
        for task in report.tasks
        if not task.trials[0].passed
    ]
    score = report.pass_hat()["1"]
    # A trial that raised is the runner's or the processor's fault, whatever the floor
    raised = [line for line in failures if "the run raised" in line]
    assert raised == [], "\n".join(raised)
    assert score >= floor, f"pass^1 {score:.3f} < floor {floor:.3f}:\n" + "\n".join(failures)
    assert report.summary()["tokens"] == 0
    assert len(report.tasks) == sum(len(f.tasks) for f in loaded)
