"""A request's thinking setting, compiled into the knob its model takes.

Pure logic on plain JSON values, no mitmproxy import.

Precedence: the `X-Thinking` header, then the rule's `thinking`, then the client's own knob
(`client_setting`, in `READ_ORDER`). The knob: the rule's `thinking_knob` when it names one;
`none` for a model known not to think; else the row of `cot_proxy.thinking.table`. Every other
thinking knob is removed from the body, so the upstream sees one switch, in its own words.
A client's own knob is compiled only where the server is known: on a server that is not, the
client may well be speaking its language already.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cot_proxy.thinking.knobs import KNOBS
from cot_proxy.thinking.knobs import READ_ORDER
from cot_proxy.thinking.knobs import Knob
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.table import COMPILED
from cot_proxy.thinking.table import Row
from cot_proxy.thinking.table import row_for
from cot_proxy.thinking.table import shape_for

# Where the knobs keep their fields: compared before and after, to say whether anything changed.
_FIELDS = ("chat_template_kwargs", "reasoning_effort", "reasoning", "think", "thinking")
_FIELDS_ANTHROPIC = (*_FIELDS, "output_config")
EXPLICIT = ("header", "rule")


@dataclasses.dataclass(frozen=True)
class Setting:
    """The thinking wanted for one request, and who asked: "header", "rule", or the name of
    the client's knob it was read from. (A budget, issue 21's fourth part, joins it here.)"""

    level: Level
    source: str

    @property
    def explicit(self) -> bool:
        return self.source in EXPLICIT


@dataclasses.dataclass(frozen=True)
class Target:
    """What is known of the model the request goes to: the server kind, its family (tag or
    knob family), whether it thinks (None: not known), and a knob named by hand."""

    server: str | None = None
    family: str | None = None
    thinks: bool | None = None
    knob: str | None = None

    def describe(self) -> str:
        return f"{self.family or 'unknown family'} on {self.server or 'an unknown server'}"


def client_setting(body: dict[str, Any], endpoint: str | None) -> Setting | None:
    """The setting the client's own knob says, the first of READ_ORDER that says one."""
    for knob in READ_ORDER:
        level = knob.read(body, endpoint)
        if level is not None:
            return Setting(level, knob.name)
    return None


def choose(
    header: Level | None, rule: Level | None, body: dict[str, Any], endpoint: str | None
) -> Setting | None:
    """The request's setting: header, then rule, then the client's knob."""
    if header is not None:
        return Setting(header, "header")
    if rule is not None:
        return Setting(rule, "rule")
    return client_setting(body, endpoint)


def knob_for(target: Target, endpoint: str) -> tuple[Knob, Row | None] | None:
    """The knob for `target` and the row that chose it (None: named by hand, or `none` for a
    model that cannot think); None when no knob is known."""
    if target.knob is not None:
        return KNOBS[target.knob], None
    if target.thinks is False:
        return KNOBS["none"], None
    row = row_for(target.server, target.family, endpoint)
    return (KNOBS[row.knob], row) if row is not None else None


def compile_thinking(
    body: dict[str, Any], setting: Setting, target: Target, endpoint: str | None
) -> list[str]:
    """Write `setting` as `target`'s knob into `body`, in place, removing every other thinking
    knob; what changed, for the change list (empty: the body is as it was)."""
    if not isinstance(body, dict) or endpoint not in COMPILED:
        return []
    if not setting.explicit and target.server is None and target.knob is None:
        return []
    found = knob_for(target, endpoint)
    if found is None:
        if setting.explicit:
            return [f"thinking {setting.level}: no knob known for {target.describe()}"]
        return []
    knob, row = found
    shape = shape_for(row, target.family, target.thinks)
    before = _snapshot(body)
    removed = [k.name for k in KNOBS.values() if k is not knob and k.remove(body, endpoint)]
    written = knob.write(body, setting.level, shape, endpoint)
    if written is None and knob.remove(body, endpoint):
        removed.append(knob.name)
    # The suffix changes the messages, which the snapshot does not hold.
    if _snapshot(body) == before and (written is None or knob is not KNOBS["no_think_suffix"]):
        return []
    asked = "" if setting.explicit else f" (from {setting.source})"
    line = f"thinking {setting.level}{asked} → {written or 'no knob'}"
    if removed:
        line += f", removed {', '.join(removed)}"
    return [line]


def _snapshot(body: dict[str, Any]) -> str:
    return json.dumps([body.get(k) for k in _FIELDS_ANTHROPIC], sort_keys=True, default=str)
