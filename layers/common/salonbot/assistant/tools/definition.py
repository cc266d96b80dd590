"""What a tool is: one unit of an argument model, a handler, and what the model is told.

A tool is written once, where its group of tools lives:

    class CancelArgs(Args):
        code: str = Field(min_length=1, max_length=40)

    @tool(CancelArgs, "Cancel a booking")
    def cancel(ctx: ToolContext, args: CancelArgs) -> Result: ...

and listed in `registry.TOOLS`. The schema the model is sent is generated from the
argument model (`schema.function_spec`), so the arguments the model is told about and
the ones the code accepts cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from salonbot.assistant.tools.schema import function_spec

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.assistant.tools.context import ToolContext

# What a tool answers the model: `{"ok": true, ...}` or `{"ok": false, "error": ...}`.
Result = dict[str, Any]


class Args(BaseModel):
    """A tool's arguments: unknown fields are refused, so no argument can name a salon or
    a customer (those come from the conversation)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoArgs(Args):
    pass


A = TypeVar("A", bound=Args)


@dataclass(frozen=True)
class Tool(Generic[A]):
    """One tool the model may call. `run` gets the validated arguments; it returns the
    result or raises a `SalonbotError`, which the registry turns into an error result."""

    name: str
    description: str  # what the model is told; terse, it goes with every call
    args: type[A]
    run: Callable[[ToolContext, A], Result]

    def spec(self) -> dict[str, Any]:
        """The `tools` entry sent to the model."""
        return function_spec(self.name, self.description, self.args)


def tool(
    args: type[A], description: str
) -> Callable[[Callable[[ToolContext, A], Result]], Tool[A]]:
    """Make a handler a `Tool` named after the function."""

    def define(run: Callable[[ToolContext, A], Result]) -> Tool[A]:
        return Tool(run.__name__, description, args, run)

    return define
