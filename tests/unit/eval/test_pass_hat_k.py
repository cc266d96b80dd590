"""pass^k as τ-bench defines it: per task C(successes, k) / C(trials, k), averaged."""

from __future__ import annotations

from math import isclose

import pytest

from salonbot_dev.eval.report import Report, TaskOutcome, pass_hat_k
from salonbot_dev.eval.runner import Trial


def test_pass_hat_k_per_task_then_averaged() -> None:
    # Given a task passing 3 of 4 trials and one passing 1 of 4
    counts = [(3, 4), (1, 4)]
    # Then pass^1 is the mean success rate, and pass^k falls with k
    assert isclose(pass_hat_k(counts, 1), (3 / 4 + 1 / 4) / 2)
    assert isclose(pass_hat_k(counts, 2), (3 / 6 + 0 / 6) / 2)
    assert isclose(pass_hat_k(counts, 3), (1 / 4 + 0) / 2)
    assert isclose(pass_hat_k(counts, 4), 0.0)


def test_all_trials_passing_keeps_pass_hat_k_at_one() -> None:
    assert pass_hat_k([(4, 4), (4, 4)], 4) == 1.0


@pytest.mark.parametrize(("c", "n", "k", "expected"), [(2, 5, 2, 1 / 10), (5, 5, 3, 1.0)])
def test_single_task_is_the_hypergeometric_ratio(c: int, n: int, k: int, expected: float) -> None:
    assert isclose(pass_hat_k([(c, n)], k), expected)


def test_no_tasks_is_zero_not_a_division_error() -> None:
    assert pass_hat_k([], 1) == 0.0


def _trial(passed: bool, tokens: int = 0) -> Trial:
    return Trial(
        passed=passed, reasons=[] if passed else ["x"], messages=2, replies=3, prompt_tokens=tokens
    )


def test_report_names_every_k_up_to_the_trials() -> None:
    # Given two tasks with 2 trials each
    report = Report(
        engine="guided",
        user="scripted",
        trials=2,
        model=None,
        tasks=[
            TaskOutcome("a", "f.yaml", [_trial(True, 100), _trial(False, 50)]),
            TaskOutcome("b", "f.yaml", [_trial(True, 10), _trial(True, 10)]),
        ],
    )
    # Then pass^1 and pass^2 are reported under "1" and "2"
    data = report.as_dict()
    assert data["pass_hat_k"] == {"1": 0.75, "2": 0.5}
    summary = data["summary"]
    # And tokens per successful task count only the passing trials
    assert summary["tokens_per_successful_task"] == 40
    assert summary["tokens_per_task"] == 42.5
    assert summary["messages_per_task"] == 2
    assert data["tasks"][0]["trials"][1]["passed"] is False
    assert "pass^2 0.500" in report.table()
