"""The tools the model may call, over the booking desk.

The model proposes, the code decides: arguments are validated with pydantic (unknown
fields refused, so no argument can name a salon or a customer), the salon, the customer
and the clock come from the turn's `BookingDesk` in the `ToolContext`, and every outcome
goes back to the model as a small JSON object: `{"ok": true, ...}` or `{"ok": false,
"error": <kind>, "message": ...}`. One customer message changes at most one booking per
kind (one per service for `book`, up to the salon's limit of live bookings): the rule and
its reasons are in `changes`.

Where things are: `definition` (what a tool is: argument model + handler + description),
`schema` (the JSON schema the model is sent, generated from the argument model),
`context` (the turn as the tools see it), `results` (how outcomes are written), one module
per group of tools (`lookup`: services, slots, my_bookings; `changes`: book, move, cancel;
`handoff`), and `registry` (the tools offered, and `run_tool`). A new tool is an argument
model and an `@tool` handler in its group's module, listed in `registry.TOOLS`."""

from salonbot.assistant.tools.context import ToolContext
from salonbot.assistant.tools.definition import Args, NoArgs, Result, Tool, tool
from salonbot.assistant.tools.registry import TOOL_SPECS, TOOLS, run_tool

__all__ = [
    "TOOLS",
    "TOOL_SPECS",
    "Args",
    "NoArgs",
    "Result",
    "Tool",
    "ToolContext",
    "run_tool",
    "tool",
]
