"""The Makefile as a newcomer uses it: `make dev PORT=... ARGS=...` reaches `salonbot
local`, and `make install` / `make test` say each step as they go. Run on a stand-in
virtualenv whose python, ruff, mypy and pytest only record that they ran, so nothing is
installed."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

TOOLS = ("python", "ruff", "mypy", "pytest")


def make(*argv: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def stand_in_virtualenv(folder: Path) -> Path:
    """A virtualenv whose programs print `ran <name> <args>` and succeed."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    for name in TOOLS:
        program = bin_dir / name
        program.write_text(f'#!/bin/sh\necho "ran {name} $*"\n')
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return folder


def test_make_dev_passes_the_port_and_other_options_to_salonbot_local() -> None:
    # -n: print the commands only; -o: whatever the virtualenv's state, do not install
    plain = make("-n", "-o", ".venv/.installed", "dev")
    ported = make("-n", "-o", ".venv/.installed", "dev", "PORT=3100")
    with_args = make(
        "-n", "-o", ".venv/.installed", "dev", "PORT=3100", "ARGS=--no-schedules --salon-file ''"
    )

    assert plain.splitlines() == [".venv/bin/salonbot local"]
    assert ported.splitlines() == [".venv/bin/salonbot local --port 3100"]
    assert with_args.splitlines() == [
        ".venv/bin/salonbot local --port 3100 --no-schedules --salon-file ''"
    ]


def test_install_and_test_say_each_step_as_they_go(tmp_path: Path) -> None:
    venv = stand_in_virtualenv(tmp_path / "venv")

    # -o pgbouncer -o chromium: other prerequisites of install and test are not this test's subject
    shown = make("-o", "pgbouncer", "-o", "chromium", "test", f"VENV={venv}")

    # each step is said before its work starts
    said = [line.rstrip() for line in shown.splitlines() if line.startswith(("==> ", "ran "))]
    assert said == [
        f"==> [1/4] virtualenv {venv}",
        "==> [2/4] pip",
        "ran python -m pip install --quiet --upgrade pip",
        "==> [3/4] dependencies and tools: requirements-dev.txt (about a minute the first time)",
        "ran python -m pip install --quiet -r requirements-dev.txt",
        "==> [4/4] the project: the salonbot package and command (editable)",
        "ran python -m pip install --quiet --no-deps -e .",
        f"==> installed into {venv}",
        "==> lint: ruff check, ruff format --check, mypy",
        "ran ruff check .",
        "ran ruff format --check .",
        "ran mypy",
        "==> tests: pytest (unit, integration, e2e; a few minutes)",
        "ran pytest",
    ]
    assert (venv / ".installed").exists()


def test_make_eval_runs_the_suite_with_the_guided_engine_held_to_the_floor() -> None:
    shown = make("-n", "-o", ".venv/.installed", "eval", "ARGS=--trials 2")
    first = shown.split("\n\n")[0].replace("\\\n", "")
    assert ".venv/bin/salonbot eval --tasks evals/tasks --engine guided" in first
    assert "--min-pass $(sed -n 's/^guided_pass_1: *//p' evals/floor.yaml) --trials 2" in first
    # the model path only with a key
    assert 'if [ -n "$OPENAI_API_KEY" ]' in shown and "--engine router --trials 2" in shown
