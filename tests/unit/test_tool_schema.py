"""The schema the model is sent for each tool says what its argument model accepts: the
same argument names, the same required ones, the same JSON types; and it costs no more
prompt tokens than the hand-written schemas it replaced."""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Any, Literal

import pytest
from pydantic import Field

from salonbot.assistant.tools import TOOL_SPECS, TOOLS, Args
from salonbot.assistant.tools.schema import function_spec
from tests.fakes.tokens import count_request

# What the seven hand-written schemas cost (tests.fakes.tokens), before they were generated
# (663), plus the 12 that tell the model a visit's services are joined by "+" in `slots`
# and `book`.
HAND_WRITTEN_SCHEMA_TOKENS = 663 + 12
# The waitlist tool, added since (measured: 136 tokens).
WAITLIST_TOOL_TOKENS = 136

_JSON_TYPES: dict[object, str] = {
    str: "string",
    dt.date: "string",
    dt.datetime: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
}


def _json_type(annotation: Any) -> str:
    """The JSON type of a field, read from its Python annotation (not from pydantic's
    schema, so this is an independent check of the generated one)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        assert len(args) == 1, f"{annotation}: only X | None"
        return _json_type(args[0])
    if origin is Literal:
        return _json_type(type(args[0]))
    if origin is list:
        return "array"
    return _JSON_TYPES[annotation]


def _parameters(name: str) -> dict[str, Any]:
    spec = TOOLS[name].spec()
    assert spec["type"] == "function"
    assert spec["function"]["name"] == name
    return spec["function"]["parameters"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", list(TOOLS))
def test_the_schema_names_the_models_fields_and_requires_the_required_ones(name: str) -> None:
    # Given a tool's argument model
    fields = TOOLS[name].args.model_fields

    # When its schema is generated
    parameters = _parameters(name)

    # Then it is an object naming exactly the model's fields
    assert parameters["type"] == "object"
    assert list(parameters["properties"]) == list(fields)
    # and requires exactly the fields without a default
    required = [field for field, info in fields.items() if info.is_required()]
    assert parameters.get("required", []) == required
    # and gives each the JSON type of its annotation
    for field, info in fields.items():
        assert parameters["properties"][field]["type"] == _json_type(info.annotation), field


@pytest.mark.parametrize("name", list(TOOLS))
def test_the_schema_says_only_what_the_model_needs(name: str) -> None:
    # Given a tool and its description
    tool = TOOLS[name]
    assert tool.description and tool.spec()["function"]["description"] == tool.description

    # Then no title, default, length limit or format reaches the model
    for prop in _parameters(name)["properties"].values():
        assert set(prop) <= {"type", "description", "enum", "items"}
    assert set(_parameters(name)) <= {"type", "properties", "required"}


def test_a_field_description_is_the_schemas_description() -> None:
    # Given the date and start arguments, whose form is only said in their description
    slots, book = _parameters("slots"), _parameters("book")

    # Then the model is told the form to write
    assert slots["properties"]["date"] == {"type": "string", "description": "YYYY-MM-DD"}
    assert book["properties"]["start"] == {"type": "string", "description": "YYYY-MM-DD HH:MM"}
    assert _parameters("move")["properties"]["start"] == book["properties"]["start"]


def test_the_model_is_sent_every_tool_in_the_registrys_order() -> None:
    assert [spec["function"]["name"] for spec in TOOL_SPECS] == list(TOOLS)
    assert [tool.spec() for tool in TOOLS.values()] == TOOL_SPECS


def test_the_schemas_cost_no_more_prompt_tokens_than_the_hand_written_ones() -> None:
    # The tools go with every model call: a schema that grows costs on every turn.
    tokens = count_request({"tools": TOOL_SPECS}) - count_request({})
    assert tokens <= HAND_WRITTEN_SCHEMA_TOKENS + WAITLIST_TOOL_TOKENS


class _Rich(Args):
    kind: Literal["gel", "classic"]
    sizes: list[int] = Field(default_factory=list, description="in mm")
    count: int | None = Field(default=None, ge=1, le=9)


def test_enums_lists_and_limits_are_trimmed_to_what_the_model_reads() -> None:
    # When a model with a literal, a list and a bounded optional number is turned into a schema
    spec = function_spec("rich", "Rich", _Rich)

    # Then each keeps its type, values and description, and loses the rest
    assert spec["function"]["parameters"] == {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["gel", "classic"]},
            "sizes": {"type": "array", "description": "in mm", "items": {"type": "integer"}},
            "count": {"type": "integer"},
        },
        "required": ["kind"],
    }


class _Inner(Args):
    value: str


class _Nested(Args):
    inner: _Inner


class _Union(Args):
    value: int | str


@pytest.mark.parametrize(("model", "problem"), [(_Nested, "nested"), (_Union, "unions")])
def test_what_a_terse_schema_cannot_say_is_refused_when_the_tool_is_defined(
    model: type[Args], problem: str
) -> None:
    with pytest.raises(TypeError, match=problem):
        function_spec("odd", "Odd", model)
