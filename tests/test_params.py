"""Parameter parsing and sweeps, with property-based tests of the parser."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import UserError
from harness.params import Param, parse_override, resolve_params

DECLARED = (
    Param("batch_size", "int", 32, minimum=1),
    Param("lr", "float", 0.1, minimum=0),
    Param("amp", "bool", False),
    Param("hidden", "ints", (64, 32)),
    Param("style", "str", "sequential", choices=("sequential", "functional")),
)


def test_defaults_suite_values_and_sweep():
    points = resolve_params(
        DECLARED, {"lr": 0.5}, [parse_override("batch_size=8,16"), parse_override("amp=true")], "w"
    )
    assert points == [
        {"batch_size": 8, "lr": 0.5, "amp": True, "hidden": (64, 32), "style": "sequential"},
        {"batch_size": 16, "lr": 0.5, "amp": True, "hidden": (64, 32), "style": "sequential"},
    ]


def test_ints_parse():
    [point] = resolve_params(DECLARED, {}, [parse_override("hidden=128x64x32")], "w")
    assert point["hidden"] == (128, 64, 32)


@pytest.mark.parametrize(
    "text, message",
    [
        ("batch_size=abc", "expects a whole number"),
        ("lr=fast", "expects a number"),
        ("amp=maybe", "true or false"),
        ("style=weird", "must be one of"),
        ("batch_size=0", "at least 1"),
        ("nope=1", "has no parameter 'nope'"),
        ("hidden=a", "whole numbers joined"),
    ],
)
def test_bad_values_name_the_parameter(text, message):
    with pytest.raises(UserError, match=message):
        resolve_params(DECLARED, {}, [parse_override(text)], "w")


@pytest.mark.parametrize("text", ["batch_size", "=3", "batch_size=", "batch_size=1,,2"])
def test_malformed_override(text):
    with pytest.raises(UserError):
        parse_override(text)


@given(st.text(max_size=40))
def test_parser_never_crashes_with_anything_but_user_error(text):
    try:
        override = parse_override(text)
        resolve_params(DECLARED, {}, [override], "w")
    except UserError:
        pass


@given(st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=5, unique=True))
def test_sweep_values_round_trip(values):
    text = "batch_size=" + ",".join(map(str, values))
    points = resolve_params(DECLARED, {}, [parse_override(text)], "w")
    assert [p["batch_size"] for p in points] == values


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=0))
def test_float_round_trip(value):
    [point] = resolve_params(DECLARED, {}, [parse_override(f"lr={value!r}")], "w")
    assert point["lr"] == value
