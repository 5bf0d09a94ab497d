"""cot_proxy.rules.merge: the LLM_PARAMS rules over the config.yaml rules."""

from typing import Any

from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import deep_merge
from cot_proxy.rules import merge_rules
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.think import ThinkConfig


def matched(rules: RuleSet, model: str) -> ModelRule:
    """The rule matching `model`, which must exist."""
    rule = rules.match(model)
    assert rule is not None, model
    return rule


# --- merging env over file -----------------------------------------------------------------


def test_merge_env_wins_key_by_key():
    file = parse_config(
        """
models:
  - model: q*
    params: {temperature: 0.6, top_p: 0.9, chat_template_kwargs: {enable_thinking: true, x: 1}}
    defaults: {max_tokens: 100}
    drop: [a]
    think_mode: reasoning
    think_tags: [["<t>", "</t>"], ["<u>", "</u>"]]
    upstream_model_name: file/up
    strip_think_from_history: true
"""
    )
    env = parse_llm_params(
        "model=q*,temperature=0.2,chat_template_kwargs.enable_thinking=false,"
        "enable_think_tag_filtering=false,think_tag_start=[T]"
    )
    (merged,) = merge_rules(env, file)
    assert merged.params == {
        "temperature": 0.2,
        "top_p": 0.9,
        "chat_template_kwargs": {"enable_thinking": False, "x": 1},
    }
    assert merged.defaults == {"max_tokens": 100}
    assert merged.drop == ("a",)
    assert merged.think_mode == "keep"  # env's enable_think_tag_filtering=false
    assert merged.upstream_model_name == "file/up"
    assert merged.strip_think_from_history is True
    assert merged.source == "LLM_PARAMS group 1 + config.yaml rule 1"
    # env single tag on top of the file's pairs: replaces the first pair's start
    assert merged.think_config(ThinkConfig()).tags == (("[T]", "</t>"), ("<u>", "</u>"))
    # the inputs are untouched
    assert file[0].params["temperature"] == 0.6
    assert env[0].params["chat_template_kwargs"] == {"enable_thinking": False}


def test_merge_order_and_single_source_rules():
    env = parse_llm_params("model=e-only,x=1;model=both,x=2;model=g*,x=3")
    file = parse_config(
        "models: [{model: f-only, params: {y: 1}}, {model: both, params: {y: 2}}, {model: 'g*'}]"
    )
    merged = merge_rules(env, file)
    assert [r.pattern for r in merged] == ["e-only", "both", "g*", "f-only"]
    assert merged[1].params == {"x": 2, "y": 2}
    assert merged[3].source == "config.yaml rule 1"


def test_merge_glob_priority_env_first():
    env = parse_llm_params("model=qwen*,x=1")
    file = parse_config("models: [{model: 'qwen3-*', params: {x: 2}}, {model: qwen3-8b}]")
    rules = RuleSet(merge_rules(env, file))
    assert matched(rules, "qwen3-32b").source == "LLM_PARAMS group 1"  # env glob listed first
    assert matched(rules, "qwen3-8b").source == "config.yaml rule 2"  # exact still beats globs


def test_merge_drop_lists_united():
    file = parse_config("models: [{model: a, drop: [x, y]}]")
    env = [ModelRule("a", drop=("y", "z"), source="env")]
    assert merge_rules(env, file)[0].drop == ("x", "y", "z")


def test_merge_empty():
    assert merge_rules([], []) == []
    rules = parse_llm_params("model=a")
    assert merge_rules(rules, []) == rules
    assert merge_rules([], rules) == rules


def test_deep_merge():
    base: dict[str, Any] = {"a": {"b": 1, "c": [1]}, "d": 1}
    over: dict[str, Any] = {"a": {"c": [2], "e": {"f": 3}}, "d": {"x": 1}}
    merged = deep_merge(base, over)
    assert merged == {"a": {"b": 1, "c": [2], "e": {"f": 3}}, "d": {"x": 1}}
    # a new dict, sharing nothing with its inputs
    merged["a"]["e"]["f"] = 4
    assert over["a"]["e"]["f"] == 3
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1}


def test_merge_first_file_rule_of_a_pattern_is_used_once():
    env = [ModelRule("a", params={"x": 1}, source="env")]
    file = [ModelRule("a", params={"y": 1}, source="f1"), ModelRule("b", source="f2")]
    merged = merge_rules(env, file)
    assert [r.source for r in merged] == ["env + f1", "f2"]
