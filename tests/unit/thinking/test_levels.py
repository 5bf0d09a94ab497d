"""The thinking setting's levels, the clients' spellings and what a knob can say."""

from __future__ import annotations

import pytest

from cot_proxy.thinking.levels import LEVELS
from cot_proxy.thinking.levels import OFF
from cot_proxy.thinking.levels import ON
from cot_proxy.thinking.levels import Shape
from cot_proxy.thinking.levels import client_effort
from cot_proxy.thinking.levels import express
from cot_proxy.thinking.levels import nearest
from cot_proxy.thinking.levels import parse_level


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_parses_in_any_case(level: str) -> None:
    assert parse_level(level) == level
    assert parse_level(f" {level.upper()} ") == level


def test_yaml_booleans_are_off_and_on() -> None:
    # YAML 1.1: `thinking: off` is False, `on` True
    assert parse_level(False) == "off"
    assert parse_level(True) == "on"


@pytest.mark.parametrize("value", ["", "none", "hgih", "1", 1, None, {"type": "enabled"}, []])
def test_anything_else_is_no_level(value: object) -> None:
    assert parse_level(value) is None


@pytest.mark.parametrize(
    ("sent", "level"),
    [
        ("none", "off"),
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("High", "high"),
        ("xhigh", "max"),
        ("ultra", "max"),
        ("max", "max"),
        ("extreme", None),
        (3, None),
        (None, None),
    ],
)
def test_client_efforts_clamp_like_ollama(sent: object, level: str | None) -> None:
    assert client_effort(sent) == level


BOOLEAN = Shape()
GPT_OSS = Shape(("low", "medium", "high"), can_off=False)
ANTHROPIC = Shape(("low", "medium", "high", "max"))


@pytest.mark.parametrize(
    ("level", "shape", "said"),
    [
        ("off", BOOLEAN, OFF),
        ("on", BOOLEAN, ON),
        ("low", BOOLEAN, ON),  # levels → true for an on/off knob
        ("max", BOOLEAN, ON),
        ("max", GPT_OSS, "high"),  # max → high where there is no max
        ("medium", GPT_OSS, "medium"),
        ("off", GPT_OSS, "low"),  # gpt-oss cannot stop thinking: the least it can
        ("on", GPT_OSS, ON),
        ("max", ANTHROPIC, "max"),
        ("off", Shape(can_off=False), None),  # always thinks, takes no effort: nothing
    ],
)
def test_express(level: str, shape: Shape, said: str | None) -> None:
    assert express(level, shape) == said  # type: ignore[arg-type]


def test_nearest_prefers_the_lower_on_a_tie() -> None:
    assert nearest("medium", ("low", "high")) == "low"
    assert nearest("low", ("medium", "max")) == "medium"
    assert nearest("max", ("low",)) == "low"
