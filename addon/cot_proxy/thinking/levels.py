"""The thinking setting: its levels, the clients' spellings of them, and what a knob expresses.

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from typing import Literal
from typing import TypeGuard

Level = Literal["off", "on", "low", "medium", "high", "max"]
LEVELS: tuple[Level, ...] = ("off", "on", "low", "medium", "high", "max")
# The effort levels, lowest first: the distance between two is how near they are.
EFFORTS: tuple[str, ...] = ("low", "medium", "high", "max")

# What clients write as an effort (OpenAI's reasoning_effort / reasoning.effort, Anthropic's
# output_config.effort, Ollama's think), read as a level. The clamps follow Ollama's
# openai/openai.go thinkFromReasoningEffort: "minimal" below "low", "xhigh"/"ultra" above
# "high" ("ultra" is Codex's, lidge-jun/opencodex#2356); "none" turns thinking off.
CLIENT_EFFORTS: dict[str, Level] = {
    "none": "off",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
    "ultra": "max",
    "max": "max",
}


def is_level(value: object) -> TypeGuard[Level]:
    return value in LEVELS


def parse_level(value: object) -> Level | None:
    """A setting as a user writes it (rule, header): a level in any case, or YAML's booleans
    (`thinking: off` is False to YAML 1.1); None when it is none of them."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, str):
        wanted = value.strip().lower()
        if is_level(wanted):
            return wanted
    return None


def client_effort(value: object) -> Level | None:
    """A client's effort string as a level; None for anything else (left as it is)."""
    if isinstance(value, str):
        return CLIENT_EFFORTS.get(value.strip().lower())
    return None


@dataclasses.dataclass(frozen=True)
class Shape:
    """What one model's knob can say: the efforts it takes (none: only on/off), whether the
    model can stop thinking at all, whether it thinks (None: not known), and the effort that
    says "on" where an effort field is the only switch (None: on is no field at all)."""

    efforts: tuple[str, ...] = ()
    can_off: bool = True
    thinks: bool | None = None
    on_effort: str | None = None


# How a level comes out for a knob: thinking off, on (at the model's default), or an effort.
OFF = "off"
ON = "on"


def express(level: Level, shape: Shape) -> str | None:
    """`level` as the knob of `shape` can say it: OFF, ON or one of its efforts; None when it
    cannot say it at all (off for a model that always thinks and takes no effort). A level
    the knob lacks maps to the nearest it has (max → high); levels → ON for on/off knobs."""
    if level == "off":
        if shape.can_off:
            return OFF
        return shape.efforts[0] if shape.efforts else None
    if level == "on" or not shape.efforts:
        return ON
    return nearest(level, shape.efforts)


def nearest(level: str, efforts: tuple[str, ...]) -> str:
    """The effort of `efforts` nearest to `level` (the lower one on a tie)."""
    if level in efforts:
        return level
    rank = EFFORTS.index(level)
    return min(efforts, key=lambda e: (abs(EFFORTS.index(e) - rank), EFFORTS.index(e)))
