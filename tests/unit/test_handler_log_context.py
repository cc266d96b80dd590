"""Every handler clears the logger's keys per invocation: a key one invocation appended
(a message id, a conversation id naming a customer) never appears in the next one's
logs in the same container."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

HANDLERS = sorted((REPO_ROOT / "functions").glob("*/app.py"))


def _inject_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "inject_lambda_context"
    ]


@pytest.mark.parametrize("path", HANDLERS, ids=[p.parent.name for p in HANDLERS])
def test_the_handler_clears_log_state_per_invocation(path: Path) -> None:
    tree = ast.parse(path.read_text())
    calls = _inject_calls(tree)
    assert calls, "no logger.inject_lambda_context on the handler"
    for call in calls:
        clear = {k.arg: k.value for k in call.keywords}.get("clear_state")
        assert isinstance(clear, ast.Constant) and clear.value is True, ast.unparse(call)


def test_every_function_has_a_handler_here() -> None:
    assert {p.parent.name for p in HANDLERS} >= {
        "admin",
        "api",
        "budget_alert",
        "cleanup",
        "processor",
        "webhook",
    }
