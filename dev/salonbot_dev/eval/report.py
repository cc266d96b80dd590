"""The figures of an evaluation run: pass^k as τ-bench defines it (per task, the chance that
k trials drawn from its n all pass, C(successes, k) / C(n, k), averaged over tasks), and
tokens, cost, model calls, messages and latency per task; a table for people and the JSON
form (`salonbot eval --json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from math import comb
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from salonbot_dev.eval.runner import Trial


@dataclass
class TaskOutcome:
    id: str
    file: str
    trials: list[Trial] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(1 for t in self.trials if t.passed)

    def as_dict(self) -> dict[str, Any]:
        n = len(self.trials)
        return {
            "id": self.id,
            "file": self.file,
            "passed": self.successes,
            "trials": [t.as_dict() for t in self.trials],
            **_means(self.trials, n),
        }


def pass_hat_k(successes: Sequence[tuple[int, int]], k: int) -> float:
    """Mean over tasks of C(c, k) / C(n, k), for each task's (c successes, n trials);
    tasks with fewer than k trials cannot say and are left out."""
    ratios = [comb(c, k) / comb(n, k) for c, n in successes if n >= k]
    return sum(ratios) / len(ratios) if ratios else 0.0


def _means(trials: Sequence[Trial], per: int) -> dict[str, float]:
    """Totals of `trials` divided by `per` (a task's trial count, or every trial)."""
    per = max(per, 1)
    return {
        "tokens": sum(t.tokens for t in trials) / per,
        "cost": float(sum((t.cost for t in trials), Decimal(0))) / per,
        "model_calls": sum(t.model_calls for t in trials) / per,
        "messages": sum(t.messages for t in trials) / per,
        "replies": sum(t.replies for t in trials) / per,
        "latency_ms": round(sum(t.latency_ms for t in trials) / per, 1),
        "user_tokens": sum(t.user_tokens for t in trials) / per,
    }


@dataclass
class Report:
    engine: str
    user: str
    trials: int
    model: str | None
    tasks: list[TaskOutcome]
    wall_s: float = 0.0

    def pass_hat(self) -> dict[str, float]:
        counts = [(t.successes, len(t.trials)) for t in self.tasks]
        return {str(k): round(pass_hat_k(counts, k), 4) for k in range(1, self.trials + 1)}

    def summary(self) -> dict[str, Any]:
        every = [trial for task in self.tasks for trial in task.trials]
        passed = [trial for trial in every if trial.passed]
        successful = {
            "tokens_per_successful_task": (
                sum(t.tokens for t in passed) / len(passed) if passed else None
            ),
            "cost_per_successful_task": (
                float(sum((t.cost for t in passed), Decimal(0))) / len(passed) if passed else None
            ),
        }
        per_task = {f"{key}_per_task": value for key, value in _means(every, len(every)).items()}
        return {
            "tasks": len(self.tasks),
            "trials": len(every),
            "passed_trials": len(passed),
            **per_task,
            **successful,
            "tokens": sum(t.tokens for t in every),
            "cost": float(sum((t.cost for t in every), Decimal(0))),
            "model_calls": sum(t.model_calls for t in every),
            "user_tokens": sum(t.user_tokens for t in every),
            "wall_s": round(self.wall_s, 2),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "user": self.user,
            "model": self.model,
            "trials_per_task": self.trials,
            "tasks": [t.as_dict() for t in self.tasks],
            "pass_hat_k": self.pass_hat(),
            "summary": self.summary(),
        }

    def table(self) -> str:
        rows = [("task", "trials", "tokens", "cost $", "msgs", "ms", "why not")]
        for task in self.tasks:
            marks = "".join("✓" if t.passed else "✗" for t in task.trials)
            means = _means(task.trials, len(task.trials))
            first_failure = next((t.reasons for t in task.trials if not t.passed), [])
            rows.append(
                (
                    task.id,
                    marks,
                    f"{means['tokens']:.0f}",
                    f"{means['cost']:.4f}",
                    f"{means['messages']:.1f}",
                    f"{means['latency_ms']:.0f}",
                    "; ".join(first_failure),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
            + ("  " + row[-1] if row[-1] else "")
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        s = self.summary()
        hats = "  ".join(f"pass^{k} {v:.3f}" for k, v in self.pass_hat().items())
        model = f", model {self.model}" if self.model else ""
        lines += [
            "",
            f"engine {self.engine}{model}, user {self.user}: {s['tasks']} tasks x "
            f"{self.trials} trials, {s['passed_trials']}/{s['trials']} trials passed",
            hats,
            f"per task: {s['tokens_per_task']:.0f} tokens, ${s['cost_per_task']:.4f}, "
            f"{s['model_calls_per_task']:.1f} model calls, {s['messages_per_task']:.1f} "
            f"customer messages, {s['replies_per_task']:.1f} replies, "
            f"{s['latency_ms_per_task']:.0f} ms processing",
        ]
        if s["user_tokens"]:
            lines.append(f"customer simulator: {s['user_tokens']} tokens (not counted above)")
        lines.append(f"wall time {s['wall_s']:.1f} s")
        return "\n".join(lines)
