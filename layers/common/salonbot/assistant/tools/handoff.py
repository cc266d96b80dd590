"""The tool that passes the conversation to the salon's staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from salonbot.assistant.tools.definition import Args, Result, tool

if TYPE_CHECKING:
    from salonbot.assistant.tools.context import ToolContext


class HandoffArgs(Args):
    reason: str | None = Field(default=None, max_length=500)


@tool(HandoffArgs, "Pass to salon staff")
def handoff(ctx: ToolContext, args: HandoffArgs) -> Result:
    # The turn result carries it: the processor starts the hand-off and tells the staff.
    ctx.handoff = True
    ctx.handoff_reason = args.reason
    return {"ok": True, "handed_off": True}
