"""The doctor's verdicts from what the services answered: the model state the health route
reports, the schema, the kill switch; and the runner, which turns a check that raises
into that item's failure and fails the run only on failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from salonbot_dev.doctor import CHECKLIST, Outcome, fail, ok, run_checks, skip, warn
from salonbot_dev.doctor.common import (
    HttpAnswer,
    openai_outcomes,
    schema_outcomes,
    switch_outcomes,
)


def health(**fields: Any) -> HttpAnswer:
    doc = {"status": "ok", "service": "ai", "model": "gpt-4o-mini", "database": "ok"} | fields
    return HttpAnswer(200, json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("doc", "status", "fix"),
    [
        ({"openai": "connected"}, "ok", None),
        ({"openai": "not_configured", "detail": "OPENAI_API_KEY is not configured"}, "warn", "KEY"),
        (
            {"openai": "error", "detail": "the model API rejected the API key (401)"},
            "fail",
            "rejected",
        ),
        ({"openai": "error", "detail": "the model API is unreachable"}, "fail", "NAT gateway"),
        (
            {"openai": "error", "detail": "the OpenAI API key secret could not be read"},
            "fail",
            "OpenAiApiKeySecretArn",
        ),
    ],
    ids=["connected", "not-configured", "401", "unreachable", "secret"],
)
def test_the_model_item_follows_the_health_routes_check(
    doc: dict[str, Any], status: str, fix: str | None
) -> None:
    (outcome,) = openai_outcomes(health(**doc), where_key="KEY")
    assert outcome.status == status
    if fix is None:
        assert outcome.fix is None
    else:
        assert fix in (outcome.fix or "")


def test_without_a_health_document_the_model_is_not_judged() -> None:
    (outcome,) = openai_outcomes(HttpAnswer(None, error="refused"), where_key="KEY")
    assert outcome.status == "skip"


def test_schema_verdicts() -> None:
    current = {"applied": ["0001_initial"], "pending": [], "unknown": [], "missing_tables": []}
    assert [o.status for o in schema_outcomes(current, migrate="M", restore="R")] == ["ok"]

    pending = current | {"pending": ["0004_ai_switch"], "missing_tables": ["ai_switch"]}
    found = schema_outcomes(pending, migrate="salonbot migrate", restore="R")
    assert [o.status for o in found] == ["fail", "fail"]
    assert all("`salonbot migrate`" in (o.fix or "") for o in found)

    by_hand = current | {"missing_tables": ["ai_messages"]}
    (dropped,) = schema_outcomes(by_hand, migrate="M", restore="restore from backup")
    assert "removed by hand: restore from backup" in (dropped.fix or "")

    newer = current | {"unknown": ["0009_future"]}
    assert [o.status for o in schema_outcomes(newer, migrate="M", restore="R")] == ["warn"]


def test_a_switched_off_salon_is_a_warning_with_the_command_that_resumes_it() -> None:
    assert [o.status for o in switch_outcomes([], cli="")] == ["ok"]
    switches = [
        {"scope": "*", "off": False, "changed_at": "t0", "changed_by": "a"},
        {
            "scope": "3f0c1a52-0000-4000-8000-000000000001",
            "off": True,
            "changed_at": "t1",
            "changed_by": "ops@laptop",
        },
    ]
    (outcome,) = switch_outcomes(switches, cli=" --function admin")
    assert outcome.status == "warn"
    assert outcome.fix == (
        "when the incident is over: "
        "`salonbot ai on --salon 3f0c1a52-0000-4000-8000-000000000001 --function admin`"
    )


class Target:
    description = "test"

    def __getattr__(self, name: str) -> Any:
        outcomes: dict[str, list[Outcome]] = {
            "database": [ok("fine")],
            "openai": [warn("no key", "set it")],
            "health": [skip("not here")],
        }
        if name == "settings":

            def broken() -> list[Outcome]:
                raise RuntimeError("boom")

            return broken
        return lambda: outcomes.get(name, [ok("fine")])


def test_the_runner_keeps_going_and_fails_only_on_failures() -> None:
    report = run_checks(Target(), "test")

    assert [f.check for f in report.findings] == [check for check, _ in CHECKLIST]
    (failed,) = report.failed
    assert failed.check == "settings" and "RuntimeError: boom" in failed.detail
    assert report.as_dict()["ok"] is False
    assert report.lines()[-1] == "1 failed, 1 warnings, 10 ok, 1 not checkable here"

    fine = run_checks(Target(), "test", only=["database", "openai"])
    assert fine.failed == [] and fine.as_dict()["ok"] is True
    assert fail("x", "y").fix == "y"
