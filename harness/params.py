"""Typed workload parameters: declaration, parsing of ``KEY=VALUE[,VALUE...]`` and sweeps."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UserError

ParamValue = int | float | bool | str | tuple[int, ...]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One parameter a workload accepts. ``type`` is one of int, float, bool, str, ints."""

    name: str
    type: str
    default: ParamValue
    help: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None

    def parse(self, text: str) -> ParamValue:
        """Parse one command-line value; raise UserError naming the parameter and the type."""
        raw = text.strip()
        value: ParamValue
        try:
            if self.type == "int":
                value = int(raw)
            elif self.type == "float":
                value = float(raw)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError(raw)
            elif self.type == "bool":
                low = raw.lower()
                if low not in _TRUE | _FALSE:
                    raise ValueError(raw)
                value = low in _TRUE
            elif self.type == "ints":
                value = tuple(int(part) for part in raw.split("x") if part != "")
                if not value:
                    raise ValueError(raw)
            else:
                value = raw
        except ValueError:
            expected = {
                "int": "a whole number",
                "float": "a number",
                "bool": "true or false",
                "ints": "whole numbers joined by 'x', like 256x128",
            }.get(self.type, "text")
            raise UserError(f"Parameter '{self.name}' expects {expected}, got {text!r}.") from None
        return self.validate(value)

    def validate(self, value: Any) -> ParamValue:
        if self.type == "ints" and isinstance(value, list):
            value = tuple(value)
        if self.choices and value not in self.choices:
            options = ", ".join(str(c) for c in self.choices)
            raise UserError(f"Parameter '{self.name}' must be one of {options}; got {value!r}.")
        if self.minimum is not None:
            numbers = value if isinstance(value, tuple) else (value,)
            for number in numbers:
                is_number = isinstance(number, int | float) and not isinstance(number, bool)
                if is_number and number < self.minimum:
                    raise UserError(
                        f"Parameter '{self.name}' must be at least {self.minimum:g}; got {value!r}."
                    )
        return value


@dataclass(frozen=True)
class ParamOverride:
    """``--param KEY=V1,V2``: one key with one or more values (several make a sweep)."""

    key: str
    values: tuple[str, ...] = field(default_factory=tuple)


def parse_override(text: str) -> ParamOverride:
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise UserError(f"--param expects KEY=VALUE or KEY=V1,V2,... (a sweep), got {text!r}.")
    values = tuple(v.strip() for v in rest.split(","))
    if any(v == "" for v in values):
        raise UserError(f"--param {text!r} has an empty value; separate values with commas.")
    return ParamOverride(key, values)


def resolve_params(
    declared: Sequence[Param],
    fixed: Mapping[str, Any],
    overrides: Iterable[ParamOverride],
    workload_name: str,
    strict: bool = True,
) -> list[dict[str, ParamValue]]:
    """Combine defaults, suite settings and command-line overrides into one dict per sweep point.

    ``strict``: an override naming a parameter this workload lacks is an error. With several
    workloads selected, the CLI checks that every override is known to at least one of them and
    passes ``strict=False`` here, so ``--param batch_size=64`` applies to those that have it.
    """
    names = [p.name for p in declared]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UserError(
            f"Workload '{workload_name}' declares parameter(s) {', '.join(twice)} more than once; "
            "declare each parameter once (the later one silently replaced the earlier)."
        )
    by_name = {p.name: p for p in declared}
    base: dict[str, ParamValue] = {p.name: p.default for p in declared}
    for key, value in fixed.items():
        if key not in by_name:
            raise UserError(
                f"Workload '{workload_name}' has no parameter '{key}'; "
                f"valid: {', '.join(sorted(by_name)) or '(none)'}."
            )
        base[key] = by_name[key].validate(value)
    axes: list[tuple[str, list[ParamValue]]] = []
    for override in overrides:
        if override.key not in by_name:
            if strict:
                raise UserError(
                    f"Workload '{workload_name}' has no parameter '{override.key}'; "
                    f"valid: {', '.join(sorted(by_name)) or '(none)'}."
                )
            continue
        param = by_name[override.key]
        axes.append((override.key, [param.parse(v) for v in override.values]))
    if not axes:
        return [base]
    points = []
    for combo in itertools.product(*(values for _, values in axes)):
        point = dict(base)
        for (key, _), value in zip(axes, combo, strict=True):
            point[key] = value
        points.append(point)
    return points


def to_json_value(value: ParamValue) -> Any:
    return list(value) if isinstance(value, tuple) else value


def format_params(params: Mapping[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        if isinstance(value, list | tuple):
            value = "x".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return " ".join(parts)


def parse_size(text: str) -> int:
    """'512m', '2g', '1073741824' -> bytes."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    raw = text.strip().lower().removesuffix("b").removesuffix("i")
    try:
        value = float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError:
        raise UserError(f"Cannot read the size {text!r}; write it like 512m or 2g.") from None
    if value <= 0:
        raise UserError(f"A memory size must be positive, got {text!r}.")
    return int(value)
