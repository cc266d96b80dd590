"""The tools the model is offered, and running one call of them.

A call is validated against its tool's argument model (with the turn's "now" as
validation context), run, and its outcome recorded on the context for the audit trail.
A tool never raises for a bad call: unknown tools, malformed JSON, invalid arguments and
the booking core's refusals all come back as error results the model can act on.
Database and programming errors do propagate (the message is then retried as a whole)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from salonbot.assistant.tools import changes, handoff, lookup, waitlist
from salonbot.assistant.tools.results import error, error_kind
from salonbot.errors import SalonbotError

if TYPE_CHECKING:
    from salonbot.assistant.tools.context import ToolContext
    from salonbot.assistant.tools.definition import Result, Tool

# In the order the model is shown them.
TOOLS: dict[str, Tool[Any]] = {
    t.name: t
    for t in (
        lookup.services,
        lookup.slots,
        changes.book,
        changes.move,
        changes.cancel,
        lookup.my_bookings,
        waitlist.join_waitlist,
        handoff.handoff,
    )
}

# Sent with every model call (see `schema` for how they stay this small).
TOOL_SPECS: list[dict[str, Any]] = [t.spec() for t in TOOLS.values()]


def run_tool(ctx: ToolContext, name: str, raw_arguments: str | None) -> Result:
    """Validate and run one tool call; the result is what the model sees."""
    result = _run(ctx, name, raw_arguments)
    ctx.calls.append({"name": name, "arguments": raw_arguments, "result": result})
    return result


def _run(ctx: ToolContext, name: str, raw_arguments: str | None) -> Result:
    tool = TOOLS.get(name)
    if tool is None:
        return error("unknown_tool", f"no tool {name!r}; tools: {', '.join(TOOLS)}")
    try:
        data = json.loads(raw_arguments or "{}")
    except ValueError:
        return error("invalid_arguments", "arguments are not valid JSON")
    if not isinstance(data, dict):
        return error("invalid_arguments", "arguments must be a JSON object")
    try:
        args = tool.args.model_validate(data, context={"now": ctx.now})
    except ValidationError as exc:
        return error("invalid_arguments", "; ".join(_validation_problems(exc)))
    try:
        return tool.run(ctx, args)
    except SalonbotError as exc:
        return error(error_kind(exc), str(exc))
    except (ValueError, OverflowError) as exc:
        # A value the checks let through that the code cannot use (a date out of range
        # once converted): the model is told, the turn goes on.
        return error("invalid_arguments", f"arguments out of range: {exc}")


def _validation_problems(exc: ValidationError) -> list[str]:
    problems = []
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        if problem["type"] == "extra_forbidden":
            problems.append(f"{where}: not an argument (salon and customer come from the chat)")
        else:
            problems.append(f"{where}: {problem['msg']}")
    return problems
