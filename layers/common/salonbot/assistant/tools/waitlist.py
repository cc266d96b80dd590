"""The tool that puts the customer on the waitlist for a full day: when a time frees up
there, the salon offers it to them (see `salonbot.outbound.waitlist`)."""

from __future__ import annotations

import datetime as dt  # noqa: TC003 (pydantic reads the annotation at runtime)
from typing import TYPE_CHECKING

from pydantic import Field

from salonbot.assistant.tools.definition import Args, Result, tool

if TYPE_CHECKING:
    from salonbot.assistant.tools.context import ToolContext


class WaitlistArgs(Args):
    service: str = Field(min_length=1, max_length=100)
    date: dt.date = Field(description="YYYY-MM-DD")
    master: str | None = Field(default=None, max_length=100)


@tool(WaitlistArgs, "Join waitlist for a full day")
def join_waitlist(ctx: ToolContext, args: WaitlistArgs) -> Result:
    ctx.desk.join_waitlist(args.service, args.date, args.master)
    return {"ok": True, "waitlisted": True, "service": args.service, "date": args.date.isoformat()}
