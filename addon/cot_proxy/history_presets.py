"""The history each model family needs: `history`, `history_turns` and `history_restore`
presets, with sources.

A family's preset applies to a request when its rule does not set the key itself (explicit
keys win, key by key). The family is the one in effect for the request: the rule's
`think_family`, else the family detected for the model (`THINK_FAMILY=auto`), else
`THINK_FAMILY`; models with no tag family of their own are found by name (`BY_NAME`, the first
row whose pattern the client's or the upstream's model name contains). Pure logic, no
mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import re

from cot_proxy.history import History
from cot_proxy.rules import ModelRule
from cot_proxy.think_config import ThinkConfig


@dataclasses.dataclass(frozen=True)
class HistoryPreset:
    form: str | None
    """The `history` form; None: the default (keep)."""
    turns: str | None
    """The `history_turns`; None: the default (all)."""
    source: str
    restore: bool = False
    """`history_restore`: the reasoning memory puts back what the client dropped."""


_DEEPSEEK_KIMI = (
    'a 400 "The `reasoning_content` in the thinking mode must be passed back" on assistant '
    "turns with tool calls, which are the least they accept: continuedev/continue#12691, "
    "mnfst/llm-gateway#1862; plain text turns without it pass (esengine/DeepSeek-Reasonix "
    "PR #4022)"
)

BY_FAMILY: dict[str, HistoryPreset] = {
    # Reasoning kept inline in the content of earlier turns; dropping it cost τ²-bench 87 → 64.
    "minimax": HistoryPreset(
        "to_inline",
        None,
        "MiniMaxAI MiniMax-M2 model card, quoted in getkimchi/kimchi PR #132",
        restore=True,
    ),
    # Thoughts "must not be added before the next user turn begins, with the exception of
    # tool call turns".
    "gemma4": HistoryPreset(
        None,
        "tool_calls",
        "google/gemma-4-31B-it model card, quoted in Mintplex-Labs/anything-llm#6260",
    ),
    "kimi_k2": HistoryPreset(
        "to_field", "tool_calls", f"Kimi K2 thinking: {_DEEPSEEK_KIMI}", restore=True
    ),
}

BY_NAME: tuple[tuple[re.Pattern[str], HistoryPreset], ...] = (
    (
        re.compile(r"deepseek[-_]?v(3[._-]?\d|4)", re.IGNORECASE),
        HistoryPreset(
            "to_field", "tool_calls", f"DeepSeek V3.x/V4: {_DEEPSEEK_KIMI}", restore=True
        ),
    ),
    (
        re.compile(r"kimi[-_]?k2(\.\d+)?[-_]?thinking|kimi[-_]?k2\.\d", re.IGNORECASE),
        HistoryPreset(
            "to_field", "tool_calls", f"Kimi K2 thinking: {_DEEPSEEK_KIMI}", restore=True
        ),
    ),
)

# Whether any preset restores: the reasoning memory then notes every request's owner.
RESTORES = any(p.restore for p in (*BY_FAMILY.values(), *(p for _, p in BY_NAME)))


def preset_for(family: str | None, *names: str | None) -> HistoryPreset | None:
    """The preset of `family`, else of the first of `names` a row of BY_NAME finds."""
    if family is not None and family in BY_FAMILY:
        return BY_FAMILY[family]
    for name in names:
        for pattern, preset in BY_NAME if name else ():
            if pattern.search(name or ""):
                return preset
    return None


def restore_for(rule: ModelRule | None, preset: HistoryPreset | None) -> bool:
    """`history_restore` of the request: the rule's, else the preset's."""
    if rule is not None and rule.history_restore is not None:
        return rule.history_restore
    return preset is not None and preset.restore


def history_for(
    rule: ModelRule | None, think: ThinkConfig, preset: HistoryPreset | None
) -> History:
    """The request's history treatment: the rule's keys, the preset's where it sets none."""
    form = None
    turns = None
    if rule is not None:
        if rule.history is not None or rule.strip_think_from_history is not None:
            form = rule.history_mode
        turns = rule.history_turns
    if preset is not None:
        form = form if form is not None else preset.form
        turns = turns if turns is not None else preset.turns
    return History.of(think, form or "keep", turns or "all")
