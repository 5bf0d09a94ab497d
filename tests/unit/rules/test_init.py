"""cot_proxy.rules (the face): what it re-exports, and load_rules."""

import pytest

import cot_proxy.rules
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import load_rules

# The names other modules import from cot_proxy.rules.
FACE = (
    "ConfigError",
    "ModelRule",
    "RuleSet",
    "parse_llm_params",
    "parse_config",
    "load_config_file",
    "merge_rules",
    "deep_merge",
    "show_value",
    "is_glob",
    "RESERVED_KEYS",
    "parse_value",
    "DEFAULT_PATTERN",
    "load_rules",
)


def matched(rules: RuleSet, model: str) -> ModelRule:
    """The rule matching `model`, which must exist."""
    rule = rules.match(model)
    assert rule is not None, model
    return rule


def test_face_exports():
    assert set(FACE) <= set(cot_proxy.rules.__all__)
    for name in cot_proxy.rules.__all__:
        assert hasattr(cot_proxy.rules, name), name


def test_load_rules_env_only():
    rules = load_rules("model=a,x=1", "")
    assert [r.pattern for r in rules] == ["a"]
    assert matched(rules, "a").params == {"x": 1}


def test_load_rules_env_over_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("models: [{model: a, params: {x: 2, y: 2}}, {model: b}]\n", encoding="utf-8")
    rules = load_rules("model=a,x=1", str(path))
    assert [r.pattern for r in rules] == ["a", "b"]
    assert matched(rules, "a").params == {"x": 1, "y": 2}
    assert matched(rules, "a").source == "LLM_PARAMS group 1 + config.yaml rule 1"
    assert len(load_rules("", str(path))) == 2
    assert len(load_rules("", "")) == 0


def test_load_rules_reports_llm_params_first(tmp_path):
    with pytest.raises(ConfigError, match="^LLM_PARAMS group 1"):
        load_rules("x=1", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules("model=a", str(tmp_path / "missing.yaml"))
