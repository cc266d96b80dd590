"""The JSON schema the model is sent for a tool, generated from its argument model.

Schemas go with every model call, so they are as terse as a hand-written one: pydantic's
`model_json_schema()` trimmed to what tells the model how to call (each argument's `type`
and `description`, `enum` and `items` where a model has them, and which arguments are
required). Everything else is dropped:
- titles, defaults and `additionalProperties`: noise to the model (unknown arguments are
  refused by the model's `extra="forbid"` anyway);
- length and range limits: the argument model enforces them and says what was wrong;
- `format`: an argument's description names the form it is written in ("YYYY-MM-DD
  HH:MM", a salon-local time), which `date-time` (RFC 3339, with an offset) would
  contradict;
- `X | None`: an optional argument is one that is not required.

What the trimmer cannot say tersely (nested models, other unions) is refused with
`TypeError` when the tool is defined, so a schema never silently says less than the model
accepts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

# The keys of a property the model is shown, in this order.
_KEPT = ("type", "description", "enum", "items")
_NULL = {"type": "null"}


def function_spec(name: str, description: str, args: type[BaseModel]) -> dict[str, Any]:
    """The `tools` entry of a chat completions request for one tool."""
    schema = args.model_json_schema()
    if "$defs" in schema:
        raise TypeError(f"{args.__name__}: nested models are not supported in tool arguments")
    properties = {
        field: _property(f"{args.__name__}.{field}", value)
        for field, value in schema.get("properties", {}).items()
    }
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        parameters["required"] = list(schema["required"])
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def _property(where: str, value: dict[str, Any]) -> dict[str, Any]:
    variants = value.get("anyOf")
    if variants is not None:
        kept = [v for v in variants if v != _NULL]
        if len(kept) != 1:
            raise TypeError(f"{where}: only `X | None` unions are supported in tool arguments")
        value = {**kept[0], **{k: v for k, v in value.items() if k != "anyOf"}}
    if "type" not in value:
        raise TypeError(f"{where}: an argument needs a JSON type, got {sorted(value)}")
    trimmed = {key: value[key] for key in _KEPT if key in value}
    if "items" in trimmed:
        trimmed["items"] = _property(f"{where}[]", trimmed["items"])
    return trimmed
