"""A tool that meets a value it cannot use answers the model with an argument error."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from salonbot.assistant import tools
from salonbot.assistant.tools import NoArgs, Tool, ToolContext, run_tool


@pytest.mark.parametrize("error", [OverflowError("date value out of range"), ValueError("bad")])
def test_a_value_error_inside_a_tool_is_an_invalid_arguments_result(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def fails(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
        raise error

    monkeypatch.setitem(tools.TOOLS, "services", Tool(NoArgs, fails))
    ctx = ToolContext(
        conn=cast("Any", None),
        salon=cast("Any", None),
        phone="+79001234567",
        now=dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC),
        language="ru",
    )

    result = run_tool(ctx, "services", "{}")

    assert result["ok"] is False and result["error"] == "invalid_arguments"
    assert str(error) in result["message"]
    assert ctx.calls == [{"name": "services", "arguments": "{}", "result": result}]
