"""The guided flow's development corpus (evals/dev): the conversations it was built on, end
to end through the processor with the scripted customer. Every task passes, no token is
spent, and no statement about availability the flow makes is false (checked turn by turn
against the availability engine, inside each turn's transaction)."""

from __future__ import annotations

import pytest

from benchmarks.guided_corpus import run_corpus
from salonbot_dev.eval.tasks import task_files
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

DEV = REPO_ROOT / "evals" / "dev"


def test_every_development_task_passes_with_true_statements_and_no_silence() -> None:
    # Given the development corpus: both salons, Russian, English and Latin-letter Russian
    files = task_files([DEV])
    assert len(files) >= 5

    # When the guided engine runs every task once
    figures = run_corpus(files)

    # Then every task passed, with no false "nothing free" and no unanswered message
    failures = [f"{t.id}: {'; '.join(t.reasons)}" for t in figures.tasks if not t.passed]
    assert failures == []
    assert [s for t in figures.tasks for s in t.false_statements] == []
    assert sum(t.silent for t in figures.tasks) == 0
    assert len(figures.tasks) >= 130 and len(figures.conversations) >= 60
