"""The history each family needs: presets by family and by name, explicit keys winning."""

from __future__ import annotations

import pytest

from cot_proxy.history_presets import BY_FAMILY
from cot_proxy.history_presets import BY_NAME
from cot_proxy.history_presets import RESTORES
from cot_proxy.history_presets import history_for
from cot_proxy.history_presets import preset_for
from cot_proxy.history_presets import restore_for
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.rules.model import HISTORY_MODES
from cot_proxy.rules.model import HISTORY_TURNS
from cot_proxy.think import ThinkConfig
from cot_proxy.think_families import FAMILIES

THINK = ThinkConfig()


def treatment(rule, family=None, *names):
    history = history_for(rule, THINK, preset_for(family, *names))
    return history.form, history.turns


@pytest.mark.parametrize(
    ("family", "names", "wanted"),
    [
        ("minimax", (), ("to_inline", "all")),
        ("gemma4", (), ("keep", "tool_calls")),
        ("kimi_k2", (), ("to_field", "tool_calls")),
        (None, ("deepseek-ai/DeepSeek-V3.2",), ("to_field", "tool_calls")),
        (None, ("deepseek-v4-pro",), ("to_field", "tool_calls")),
        (None, ("x", "moonshotai/Kimi-K2-Thinking"), ("to_field", "tool_calls")),
        (None, ("kimi-k2.6",), ("to_field", "tool_calls")),
        # No preset: the history as sent.
        ("qwen3", (), ("keep", "all")),
        (None, ("deepseek-r1",), ("keep", "all")),
        (None, ("moonshotai/Kimi-K2-Instruct",), ("keep", "all")),
        (None, (None,), ("keep", "all")),
        # A family's preset before a name's.
        ("minimax", ("deepseek-v4",), ("to_inline", "all")),
        ("qwen3", ("deepseek-v4",), ("to_field", "tool_calls")),
    ],
)
def test_presets_by_family_then_by_name(family, names, wanted):
    assert treatment(None, family, *names) == wanted


def test_explicit_keys_win_key_by_key():
    assert treatment(ModelRule("m", history="strip"), "gemma4") == ("strip", "tool_calls")
    assert treatment(ModelRule("m", history_turns="last"), "minimax") == ("to_inline", "last")
    assert treatment(ModelRule("m", strip_think_from_history=False), "minimax") == ("keep", "all")
    both = ModelRule("m", history="keep", history_turns="all")
    assert treatment(both, "kimi_k2") == ("keep", "all")
    assert not history_for(both, THINK, preset_for("kimi_k2")).touches


def test_every_preset_is_valid_and_cites_a_source():
    for family, preset in BY_FAMILY.items():
        assert family in FAMILIES
        assert preset.form in (None, *HISTORY_MODES) and preset.turns in (None, *HISTORY_TURNS)
        assert preset.source
    for _, preset in BY_NAME:
        assert preset.form in HISTORY_MODES and preset.turns in HISTORY_TURNS and preset.source


@pytest.mark.parametrize("value", ["to_inline", "all", "tool_calls", "last"])
def test_the_new_values_parse(value):
    key = "history" if value == "to_inline" else "history_turns"
    (rule,) = parse_llm_params(f"model=m,{key}={value}")
    assert getattr(rule, key) == value
    (rule,) = parse_config(f"models:\n  - model: m\n    {key}: {value}\n")
    assert getattr(rule, key) == value


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("model=m,history=inline", "unknown history 'inline' (use keep|strip|to_field|to_inline)"),
        ("model=m,history_turns=tools", "unknown history_turns 'tools' (use all|tool_calls|last)"),
    ],
)
def test_unknown_values_are_one_clear_line(text, error):
    with pytest.raises(ConfigError) as e:
        parse_llm_params(text)
    assert error in str(e.value) and "\n" not in str(e.value)


def test_restore_from_the_preset_unless_the_rule_says():
    assert restore_for(None, preset_for("minimax"))
    assert restore_for(None, preset_for("kimi_k2")) and restore_for(
        None, preset_for(None, "deepseek-v4")
    )
    assert not restore_for(None, preset_for("gemma4")) and not restore_for(None, None)
    assert not restore_for(ModelRule("m", history_restore=False), preset_for("minimax"))
    assert restore_for(ModelRule("m", history_restore=True), None)
    assert RESTORES
