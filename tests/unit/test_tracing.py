"""X-Ray traces keep no handler response: the API's responses carry the reply text and the
conversation id (which embeds the customer's phone), and Powertools records a response as
trace metadata unless told not to. Both switches are off: the template's environment for
every function, and each handler's decorator, so neither alone is relied on."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from salonbot_dev.local.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template.load(ROOT / "template.yaml")
FUNCTIONS = sorted(TEMPLATE.resources_of_type("AWS::Serverless::Function"))


def test_every_function_runs_with_response_capture_off() -> None:
    for logical_id in FUNCTIONS:
        variables = TEMPLATE.function_properties(logical_id)["Environment"]["Variables"]
        assert variables.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE") == "false", logical_id


def _handler_module(folder: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"handler_{folder}", ROOT / "functions" / folder / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _traced_choice(handler: Any) -> bool | None:
    """The `capture_response` the tracer decorator resolved, found along `__wrapped__`;
    None when the handler is not traced."""
    fn = handler
    while fn is not None:
        code = getattr(fn, "__code__", None)
        if code is not None and "capture_response" in code.co_freevars:
            cell = fn.__closure__[code.co_freevars.index("capture_response")]
            return bool(cell.cell_contents)
        fn = getattr(fn, "__wrapped__", None)
    return None


TRACED = ["api", "processor", "cleanup", "budget_alert", "staff", "reminders"]


@pytest.mark.parametrize("folder", TRACED)
def test_traced_handlers_never_capture_their_response(
    folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no environment switch (as under `sam local invoke` without the template)
    monkeypatch.delenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", raising=False)
    # When the handler module is imported, its decorators resolve their choice
    handler = _handler_module(folder).lambda_handler
    # Then the tracer will not put the response in the trace
    assert _traced_choice(handler) is False


def test_the_traced_list_is_every_handler_that_uses_the_tracer() -> None:
    uses_tracer = sorted(
        path.parent.name
        for path in (ROOT / "functions").glob("*/app.py")
        if "tracer.capture_lambda_handler" in path.read_text()
    )
    assert uses_tracer == sorted(TRACED)


def test_no_traced_method_captures_its_return_value() -> None:
    # `capture_method` records return values too; any use must opt out.
    package = ROOT / "layers" / "common" / "salonbot"
    for path in [*package.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]:
        for call in re.findall(r"capture_method\([^)]*\)|capture_method\b(?!\()", path.read_text()):
            assert "capture_response=False" in call, f"{path}: {call}"
