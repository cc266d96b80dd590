"""Read `template.yaml` the way CloudFormation does, so the local stack and AWS share one
definition: the short-form tags (`!Ref`, `!Sub`, `!GetAtt`, ...), parameters, conditions,
SAM `Globals`, and the intrinsic functions once resources have physical ids."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from pathlib import Path

NO_VALUE = "AWS::NoValue"


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve."""


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags turned into their long form."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> dict[str, Any]:
    data = yaml.load(text, Loader=_CfnLoader)
    if not isinstance(data, dict):
        raise TemplateError("the template is not a mapping")
    return data


@dataclass
class Template:
    """A parsed template: its sections, with SAM `Globals.Function` merged into functions."""

    body: dict[str, Any]
    path: Path | None = None

    @classmethod
    def load(cls, path: Path) -> Template:
        return cls(load_yaml(path.read_text(encoding="utf-8")), path)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body.get("Resources") or {}
        return resources

    def resources_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") in types}

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's Properties over `Globals.Function` (environment variables merged)."""
        defaults: dict[str, Any] = (self.body.get("Globals") or {}).get("Function") or {}
        own: dict[str, Any] = self.resources[logical_id].get("Properties") or {}
        merged = {**defaults, **own}
        variables = {
            **((defaults.get("Environment") or {}).get("Variables") or {}),
            **((own.get("Environment") or {}).get("Variables") or {}),
        }
        merged["Environment"] = {"Variables": variables}
        return merged


@dataclass
class Resolver:
    """Evaluates intrinsic functions against parameter values and physical resources."""

    template: Template
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "salonbot-local"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._conditions: dict[str, bool] = {}

    # -- names ---------------------------------------------------------------------
    def pseudo(self, name: str) -> Any:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
                f"{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]

    def parameter(self, name: str) -> Any:
        if name in self.parameter_overrides:
            return self.parameter_overrides[name]
        spec = (self.template.body.get("Parameters") or {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown parameter {name}")
        default = spec.get("Default", "")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(default, str):
            return [part.strip() for part in default.split(",")] if default else []
        return str(default) if not isinstance(default, list) else default

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in (self.template.body.get("Parameters") or {}):
            return self.parameter(name)
        if name in self.refs:
            return self.refs[name]
        if name in self.template.resources:
            # A resource the local stack does not create (role, alarm, log group, ...).
            return f"{self.stack_name}-{name}"
        raise TemplateError(f"!Ref to unknown name {name}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        if logical_id not in self.template.resources:
            raise TemplateError(f"!GetAtt of unknown resource {logical_id}")
        return f"arn:aws:local:{self.region}:{self.account_id}:{logical_id}/{attribute}"

    # -- conditions ----------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.body.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def included(self, resource: dict[str, Any]) -> bool:
        """False for a resource whose `Condition` is false."""
        condition = resource.get("Condition")
        return condition is None or self.condition(str(condition))

    # -- evaluation ----------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _REMOVED]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            if key == "Ref":
                return _REMOVED if argument == NO_VALUE else self.ref(str(argument))
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key[4:], argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _REMOVED}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            logical_id, attribute = (self.resolve(part) for part in parts)
            return self.get_att(str(logical_id), str(attribute))
        if name == "Sub":
            return self._sub(argument)
        if name == "Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if name == "Split":
            separator, text = self.resolve(argument)
            return str(text).split(str(separator))
        if name == "If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if name == "Not":
            return not self.resolve(argument)[0]
        if name == "And":
            return all(self.resolve(argument))
        if name == "Or":
            return any(self.resolve(argument))
        if name == "FindInMap":
            table, key, attribute = self.resolve(argument)
            return self.template.body["Mappings"][table][key][attribute]
        if name == "Base64":
            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if name == "GetAZs":
            return [f"{self.region}{suffix}" for suffix in "abc"]
        if name == "ToJsonString":
            import json

            return json.dumps(self.resolve(argument))
        raise TemplateError(f"Fn::{name} is not supported by the local stack")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, str(text))


_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")
# Marks a value removed by `!Ref AWS::NoValue` so the enclosing list or mapping drops it.
_REMOVED: Any = object()
