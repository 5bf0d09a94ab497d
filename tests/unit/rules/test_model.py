"""cot_proxy.rules.model: the SETTINGS table, ModelRule (think_config, describe), RuleSet."""

import dataclasses
import json
import pathlib

import pytest

from cot_proxy.rules import RESERVED_KEYS
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.rules.checks import Invalid
from cot_proxy.rules.model import ALSO_FIELDS
from cot_proxy.rules.model import CONFLICTS
from cot_proxy.rules.model import SETTINGS
from cot_proxy.rules.model import TEXT_KEYS
from cot_proxy.rules.model import build_rule
from cot_proxy.think import THINK_MODES
from cot_proxy.think import ThinkConfig

REPO_CONFIG = pathlib.Path(__file__).resolve().parents[3] / "config.yaml"


def matched(rules: RuleSet, model: str) -> ModelRule:
    """The rule matching `model`, which must exist."""
    rule = rules.match(model)
    assert rule is not None, model
    return rule


def one(text: str) -> ModelRule:
    rules = parse_llm_params(text)
    assert len(rules) == 1
    return rules[0]


# --- matching ------------------------------------------------------------------------------


def ruleset(*patterns: str) -> RuleSet:
    return RuleSet(ModelRule(pattern=p, source=f"r{i}") for i, p in enumerate(patterns))


@pytest.mark.parametrize(
    "patterns, model, expected",
    [
        (["qwen3-*", "qwen3-32b"], "qwen3-32b", "qwen3-32b"),  # exact beats an earlier glob
        (["qwen3-*", "qwen*"], "qwen3-8b", "qwen3-*"),  # first glob wins
        (["qwen*", "qwen3-*"], "qwen3-8b", "qwen*"),
        (["qwen3-*"], "Qwen3-8b", None),  # case-sensitive
        (["qwen3-?b"], "qwen3-8b", "qwen3-?b"),
        (["qwen3-[0-9]b"], "qwen3-8b", "qwen3-[0-9]b"),
        (["a"], "b", None),
        (["default", "*"], None, "default"),
        (["default", "*"], "", "default"),
        (["default", "*"], "x", "*"),  # default only when no model is named
        (["default"], "default", None),
        (["*"], None, None),
        (["a"], None, None),
    ],
)
def test_match(patterns, model, expected):
    rule = ruleset(*patterns).match(model)
    assert (rule.pattern if rule else None) == expected


def test_match_non_string_model():
    assert ruleset("*").match(7) is None  # type: ignore[arg-type]


def test_first_duplicate_wins():
    rules = RuleSet([ModelRule("a", source="first"), ModelRule("a", source="second")])
    assert matched(rules, "a").source == "first"


def test_pseudo_models():
    rules = RuleSet(
        [
            ModelRule("fast", upstream_model_name="org/Model-7B"),
            ModelRule("qwen-*", upstream_model_name="Qwen/Qwen3"),  # glob: not a name
            ModelRule("default", upstream_model_name="org/Default"),
            ModelRule("plain"),
            ModelRule("smart", upstream_model_name="org/Model-70B"),
        ]
    )
    assert rules.pseudo_models() == [("fast", "org/Model-7B"), ("smart", "org/Model-70B")]
    assert len(rules) == 5


def test_describe_is_one_compact_line_per_rule():
    rules = RuleSet(
        parse_llm_params(
            "model=q*,temperature=0.6,chat_template_kwargs.enable_thinking=false,"
            "think_mode=strip,append_to_last_user_message=\\n\\n/no_think;model=plain"
        )
    )
    lines = rules.describe()
    assert lines == [
        "q* [LLM_PARAMS group 1]: temperature=0.6, chat_template_kwargs.enable_thinking=false, "
        'think_mode=strip, append_to_last_user_message="\\n\\n/no_think"',
        "plain [LLM_PARAMS group 2]: (no changes)",
    ]


# --- think_config --------------------------------------------------------------------------


def test_think_config_unset_keeps_base():
    base = ThinkConfig(mode="reasoning", tags=(("<a>", "</a>"),), implicit_start=True)
    assert ModelRule("x").think_config(base) == base


def test_think_config_overlay():
    rule = ModelRule(
        "x",
        think_mode="keep",
        think_tags=(("<t>", "</t>"), ("<u>", "</u>")),
        think_implicit_start=True,
        reasoning_field="reasoning",
    )
    assert rule.think_config(ThinkConfig()) == ThinkConfig(
        mode="keep",
        tags=(("<t>", "</t>"), ("<u>", "</u>")),
        implicit_start=True,
        reasoning_field="reasoning",
    )


def test_think_tag_start_end_replace_first_pair():
    base = ThinkConfig(tags=(("<think>", "</think>"), ("<x>", "</x>")))
    rule = one("model=a,think_tag_start=[THINK]")
    assert rule.think_config(base).tags == (("[THINK]", "</think>"), ("<x>", "</x>"))
    rule = one("model=a,think_tag_start=[THINK],think_tag_end=[/THINK]")
    assert rule.think_config(base).tags == (("[THINK]", "[/THINK]"), ("<x>", "</x>"))
    assert rule.think_config(ThinkConfig(tags=())).tags == (("[THINK]", "[/THINK]"),)


# --- the SETTINGS table drives everything --------------------------------------------------

# A valid value of every setting (as JSON, which is YAML too). A new SETTINGS row needs one.
SAMPLES = {
    "think_mode": "reasoning",
    "enable_think_tag_filtering": False,
    "think_family": "qwen3",
    "think_tags": [["<a>", "</a>"], ["<b>", "</b>"]],
    "think_tag_start": "[T]",
    "think_tag_end": "[/T]",
    "reasoning_field": "reasoning",
    "responses_reasoning": "summary",
    "upstream_model_name": "org/Real-7B",
    "think_implicit_start": True,
    "implicit_unclosed": "think",
    "think_end_markers": ["<tool_call>", "<|tool_calls_section_begin|>"],
    "strip_think_from_history": True,
    "history_restore": True,
    "history": "to_field",
    "history_turns": "tool_calls",
    "append_to_last_user_message": "\n/no_think",
    "server": "llamacpp",
    "thinking": "low",
    "thinking_knob": "think",
    "think_budget": 512,
    "think_budget_mode": "proxy",
    "think_budget_message": "Time is up: answer now.",
}
STRUCTURE_FIELDS = {"pattern", "params", "defaults", "drop", "variants", "source"}


def test_samples_cover_every_setting():
    assert set(SAMPLES) == {s.name for s in SETTINGS}


def test_reserved_and_text_keys_come_from_the_table():
    assert RESERVED_KEYS == tuple(s.name for s in SETTINGS)
    assert len(set(RESERVED_KEYS)) == len(RESERVED_KEYS)
    # the same keys as before the table
    assert set(RESERVED_KEYS) == {
        "think_tag_start",
        "think_tag_end",
        "think_mode",
        "enable_think_tag_filtering",
        "think_implicit_start",
        "reasoning_field",
        "responses_reasoning",
        "upstream_model_name",
        "append_to_last_user_message",
        "think_tags",
        "strip_think_from_history",
        "history_restore",
        "implicit_unclosed",
        "think_end_markers",
        "history",
        "history_turns",
        "think_family",
        "server",
        "thinking",
        "thinking_knob",
        "think_budget",
        "think_budget_mode",
        "think_budget_message",
    }
    assert TEXT_KEYS == {
        "think_family",
        "think_tag_start",
        "think_tag_end",
        "upstream_model_name",
        "reasoning_field",
        "think_budget_message",
    }


def test_model_rule_fields_are_the_settings():
    fields = {f.name for f in dataclasses.fields(ModelRule)} - STRUCTURE_FIELDS
    assert fields == {s.name for s in SETTINGS if s.alias_of is None}
    assert all(s.field in fields for s in SETTINGS)


def test_conflicts_name_settings():
    for one_side, other_side in CONFLICTS:
        assert set(one_side + other_side) <= set(RESERVED_KEYS)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_works_in_both_grammars_and_is_shown(setting):
    sample = SAMPLES[setting.name]
    (from_file,) = parse_config(json.dumps({"models": [{"model": "a", setting.name: sample}]}))
    assert getattr(from_file, setting.field) is not None
    assert f"{setting.field}=" in from_file.describe()
    # LLM_PARAMS takes the same value as JSON and builds the same rule
    (from_env,) = parse_llm_params(f"model=a,{setting.name}={json.dumps(sample)}")
    assert dataclasses.replace(from_env, source=from_file.source) == from_file
    if setting.name in ALSO_FIELDS:  # Anthropic's thinking object: a field (test_llm_params)
        return
    # a setting is never a request field, in either grammar
    with pytest.raises(ConfigError, match="is a rule setting, not a request field"):
        parse_llm_params(f"model=a,{setting.name}.x=1")
    with pytest.raises(ConfigError, match="is a rule setting, not a request field"):
        parse_config(json.dumps({"models": [{"model": "a", "params": {setting.name: 1}}]}))


def test_every_setting_is_documented_in_config_yaml():
    text = REPO_CONFIG.read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"{setting.name}:" in text, setting.name


def test_describe_shows_settings_in_table_order():
    rule = ModelRule(
        "m",
        think_mode="keep",
        think_tags=(("<a>", "</a>"),),
        reasoning_field="r",
        think_implicit_start=False,
        append_to_last_user_message="x",
    )
    assert rule.describe() == (
        "m: think_mode=keep, think_tags=<a>…</a>, reasoning_field=r, think_implicit_start=false, "
        'append_to_last_user_message="x"'
    )


# --- build_rule ----------------------------------------------------------------------------


def test_build_rule_without_settings():
    assert build_rule("a", {}, source="s", lenient=False) == ModelRule("a", source="s")


@pytest.mark.parametrize("mode", THINK_MODES)
def test_build_rule_think_modes(mode):
    assert build_rule("a", {"think_mode": mode}, source="", lenient=False).think_mode == mode


def test_build_rule_lenient_booleans():
    rule = build_rule("a", {"think_implicit_start": "TRUE"}, source="", lenient=True)
    assert rule.think_implicit_start is True
    with pytest.raises(Invalid, match="think_implicit_start must be true or false"):
        build_rule("a", {"think_implicit_start": "TRUE"}, source="", lenient=False)


def test_build_rule_legacy_alias_sets_think_mode():
    rule = build_rule("a", {"enable_think_tag_filtering": True}, source="", lenient=False)
    assert rule.think_mode == "strip"
    assert "enable_think_tag_filtering" not in rule.describe()


@pytest.mark.parametrize(
    "settings, err",
    [
        (
            {"think_mode": "keep", "enable_think_tag_filtering": True},
            "give think_mode or enable_think_tag_filtering, not both",
        ),
        (
            {"think_tags": [["a", "b"]], "think_tag_end": "x"},
            "give think_tags or think_tag_start/think_tag_end, not both",
        ),
    ],
)
def test_build_rule_conflicts(settings, err):
    with pytest.raises(Invalid, match=err):
        build_rule("a", settings, source="", lenient=False)


def test_build_rule_suffix_null_is_empty():
    rule = build_rule("a", {"append_to_last_user_message": None}, source="", lenient=True)
    assert rule.append_to_last_user_message == ""


def test_end_markers_and_implicit_unclosed_reach_the_think_config():
    (rule,) = parse_config(
        json.dumps(
            {"models": [{"model": "a", "think_end_markers": [], "implicit_unclosed": "answer"}]}
        )
    )
    config = rule.think_config(ThinkConfig())
    assert config.end_markers == () and config.implicit_unclosed == "answer"
    assert config.markers_for("<think>") == ()  # an empty list turns the default off
    assert ThinkConfig().markers_for("<think>") == ("<tool_call>",)
    assert ModelRule("b").think_config(ThinkConfig()).end_markers is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("think_end_markers", "<tool_call>", "must be a list of non-empty strings, got"),
        ("think_end_markers", ["<a>", ""], "must be a list of non-empty strings, got item ''"),
        ("implicit_unclosed", "maybe", "unknown implicit_unclosed 'maybe' .use auto|answer|think"),
    ],
)
def test_end_markers_and_implicit_unclosed_are_checked(key, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(json.dumps({"models": [{"model": "a", key: value}]}))
