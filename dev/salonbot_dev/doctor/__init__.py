"""`salonbot doctor`: the deployment guide's checklist, each item checked against the real
thing (the local stack, or a deployed CloudFormation stack), with the fix for each
failure.

A target (`local.LocalDoctor`, `aws.StackDoctor`) has one method per checklist item,
named by its id in `CHECKLIST`, that returns what it found: `ok`, `warn` (works, but
worth a look; does not fail the run), `fail` (with the fix) or `skip` (not checkable on
this target, with why). A check that raises is a failure of that item, not of the run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")

# (id, the deployment guide's checklist line it answers), in the guide's order; the last
# is salonbot's own.
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("database", "Database tables exist (ai_conversations, ai_messages)"),
    ("openai", "OPENAI_API_KEY configured"),
    ("settings", "Environment variables set"),
    ("health", "Health check passing"),
    ("test_message", "Test message processed successfully"),
    ("webhook", "WhatsApp integration updated"),
    ("cost_monitoring", "Cost monitoring enabled"),
    ("alarms", "Alerts configured"),
    ("logging", "Logging enabled"),
    ("backups", "Backup strategy in place"),
    ("throttling", "Rate limiting configured"),
    ("error_handling", "Error handling tested"),
    ("ai_switch", "AI kill switch on"),
)


@dataclass(frozen=True)
class Outcome:
    """What one check found about (a part of) its item."""

    status: Status
    detail: str
    fix: str | None = None


def ok(detail: str) -> Outcome:
    return Outcome("ok", detail)


def warn(detail: str, fix: str) -> Outcome:
    return Outcome("warn", detail, fix)


def fail(detail: str, fix: str) -> Outcome:
    return Outcome("fail", detail, fix)


def skip(reason: str) -> Outcome:
    return Outcome("skip", reason)


@dataclass(frozen=True)
class Finding:
    check: str
    item: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class Report:
    target: str
    findings: list[Finding]

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "fail"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ok": not self.failed,
            "findings": [asdict(f) for f in self.findings],
        }

    def lines(self) -> list[str]:
        out = [f"salonbot doctor: {self.target}", ""]
        for f in self.findings:
            label = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}[f.status]
            out.append(f"  {label:<4}  {f.check:<15} {f.detail}")
            if f.fix:
                out.append(f"        {'':<15} fix: {f.fix}")
        counts = {s: sum(1 for f in self.findings if f.status == s) for s in STATUSES}
        out += [
            "",
            f"{counts['fail']} failed, {counts['warn']} warnings, {counts['ok']} ok, "
            f"{counts['skip']} not checkable here",
        ]
        return out


def run_checks(target: Any, description: str, only: list[str] | None = None) -> Report:
    """Every check of `CHECKLIST` (or those named in `only`) on `target`, in order."""
    findings: list[Finding] = []
    for check, item in CHECKLIST:
        if only and check not in only:
            continue
        method: Callable[[], list[Outcome]] = getattr(target, check)
        try:
            outcomes = method()
        except Exception as exc:  # a check's own failure is that item's failure
            outcomes = [
                fail(
                    f"the check could not run: {type(exc).__name__}: {exc}",
                    "fix what the error names, then run `salonbot doctor` again",
                )
            ]
        findings += [Finding(check, item, o.status, o.detail, o.fix) for o in outcomes]
    return Report(description, findings)
