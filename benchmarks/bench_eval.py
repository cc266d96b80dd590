"""The evaluation suite (evals/tasks, docs/evaluation.md) per engine: pass^1..pass^4 over
4 trials of each task with the scripted customer, tokens and cost per successful task,
messages per task. The guided engine always; the router and the model engine when a
model is configured (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL).

Run: `python -m benchmarks eval`."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.harness import Row, run_facts

AREA = "eval"
TRIALS = 4
SHOWN = 8  # failing task ids named in the note
MUST = "-must"  # single messages every decent assistant must get right
REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "evals" / "tasks"
FIXTURES = REPO / "tests" / "fixtures" / "evals" / "demo.yaml"


def _suite() -> tuple[list[Path], str]:
    from salonbot_dev.eval.tasks import task_files

    files = task_files([SUITE]) if SUITE.is_dir() else []
    if files:
        return files, "evals/tasks"
    return [FIXTURES], "the fixture tasks (evals/tasks is empty)"


def _rows(engine: str, files: list[Path], suite: str) -> list[Row]:
    from salonbot.config import Settings
    from salonbot_dev.cli.eval import processor_output_on_stderr
    from salonbot_dev.eval.report import pass_hat_k
    from salonbot_dev.eval.suite import EvalOptions, evaluate
    from salonbot_dev.eval.tasks import load_tasks

    settings = Settings.from_env()
    with processor_output_on_stderr():
        report = evaluate(
            load_tasks(list(files)),
            EvalOptions(engine=engine, user="scripted", trials=TRIALS),
            settings,
            server_url=os.environ.get("DATABASE_URL"),
        )
    hats = report.pass_hat()
    summary = report.summary()
    model = f", {report.model}" if report.model else ""
    failing = sorted(t.id for t in report.tasks if t.successes < len(t.trials))
    shown = ", ".join(failing[:SHOWN]) + (
        f" and {len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
    )
    must = [(t.successes, len(t.trials)) for t in report.tasks if t.id.endswith(MUST)]
    tokens = summary["tokens_per_successful_task"]
    cost = summary["cost_per_successful_task"]
    return [
        Row(
            AREA,
            f"{engine}{model}: pass^1 / ^2 / ^3 / ^4",
            " / ".join(f"{hats[str(k)]:.3f}" for k in range(1, TRIALS + 1)),
            ">= 0.9 pass^1" if engine == "guided" else "",
            f"{summary['tasks']} tasks of {suite} x {TRIALS} trials, scripted customer"
            + (f"; not always passed: {shown}" if failing else ""),
        ),
        Row(
            AREA,
            f"{engine}: pass^1 on the must set",
            f"{pass_hat_k(must, 1):.3f}" if must else "n/a",
            ">= 0.9" if engine == "guided" else "",
            f"{len(must)} tasks whose id ends in {MUST} (evals/README.md)",
        ),
        Row(
            AREA,
            f"{engine}: tokens and cost per successful task",
            "n/a (none passed)" if tokens is None else f"{tokens:.0f} tokens, ${cost:.5f}",
            "0 for guided" if engine == "guided" else "",
            f"{summary['model_calls_per_task']:.1f} model calls per task",
        ),
        Row(
            AREA,
            f"{engine}: messages per task",
            f"{summary['messages_per_task']:.1f} customer, {summary['replies_per_task']:.1f} salon",
            "",
            f"{summary['latency_ms_per_task']:.0f} ms processing per task; "
            f"run {summary['wall_s']:.1f} s",
        ),
    ]


def run() -> list[Row]:
    from salonbot.assistant.agent import openai_client
    from salonbot.config import Settings

    files, suite = _suite()
    rows = _rows("guided", files, suite)
    if openai_client(Settings.from_env()) is None:
        rows.append(Row(AREA, "router, model: pass^k", "not measured", "", "no OPENAI_API_KEY set"))
        return rows
    run_facts["model"] = Settings.from_env().openai_model
    for engine in ("router", "model"):
        rows.extend(_rows(engine, files, suite))
    return rows
