"""A tool that meets a value it cannot use answers the model with an argument error."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from salonbot.assistant import tools
from salonbot.assistant.tools import NoArgs, ToolContext, run_tool
from tests.conftest import DEMO_SALON_FILE
from tests.fakes.memory_desk import Calendar, salon_from_file


@pytest.mark.parametrize("error", [OverflowError("date value out of range"), ValueError("bad")])
def test_a_value_error_inside_a_tool_is_an_invalid_arguments_result(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def fails(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
        raise error

    monkeypatch.setitem(
        tools.TOOLS, "services", dataclasses.replace(tools.TOOLS["services"], run=fails)
    )
    desk = Calendar(salon_from_file(DEMO_SALON_FILE)).desk(
        "+79001234567", dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
    )
    ctx = ToolContext(desk=desk, language="ru")

    result = run_tool(ctx, "services", "{}")

    assert result["ok"] is False and result["error"] == "invalid_arguments"
    assert str(error) in result["message"]
    assert ctx.calls == [{"name": "services", "arguments": "{}", "result": result}]
