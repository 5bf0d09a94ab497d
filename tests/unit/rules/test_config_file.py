"""cot_proxy.rules.config_file: the config.yaml reader."""

import pathlib
import re

import pytest

from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import load_config_file
from cot_proxy.rules import parse_config

REPO_CONFIG = pathlib.Path(__file__).resolve().parents[3] / "config.yaml"


# --- config.yaml ---------------------------------------------------------------------------

FULL = """
models:
  - model: qwen3-*
    params: {temperature: 0.6, top_p: 0.95, chat_template_kwargs.enable_thinking: false}
    defaults: {max_tokens: 4096}
    drop: [frequency_penalty, stream_options.include_usage]
    think_mode: strip
    think_tags: [["<think>", "</think>"], ["<thinking>", "</thinking>"]]
    think_implicit_start: false
    reasoning_field: reasoning_content
    upstream_model_name: Qwen/Qwen3-32B
    append_to_last_user_message: "\\n\\n/no_think"
    strip_think_from_history: true
  - model: legacy
    think_tag_start: "[THINK]"
    enable_think_tag_filtering: false
"""


def test_yaml_full_rule():
    first, second = parse_config(FULL, "/etc/cot/config.yaml")
    assert first == ModelRule(
        pattern="qwen3-*",
        params={
            "temperature": 0.6,
            "top_p": 0.95,
            "chat_template_kwargs": {"enable_thinking": False},
        },
        defaults={"max_tokens": 4096},
        drop=("frequency_penalty", "stream_options.include_usage"),
        think_mode="strip",
        think_tags=(("<think>", "</think>"), ("<thinking>", "</thinking>")),
        think_implicit_start=False,
        reasoning_field="reasoning_content",
        upstream_model_name="Qwen/Qwen3-32B",
        append_to_last_user_message="\n\n/no_think",
        strip_think_from_history=True,
        source="config.yaml rule 1",
    )
    assert second.think_tag_start == "[THINK]"
    assert second.think_mode == "keep"
    assert second.source == "config.yaml rule 2"


def test_load_config_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(FULL, encoding="utf-8")
    rules = load_config_file(str(path))
    assert [r.pattern for r in rules] == ["qwen3-*", "legacy"]
    assert rules[0].source == "rules.yaml rule 1"


@pytest.mark.parametrize("text", ["", "# only comments\n", "models:\n", "models: []\n"])
def test_yaml_empty(text):
    assert parse_config(text) == []


def test_yaml_aliases_are_not_shared():
    text = (
        "models:\n - {model: a, params: &p {k: {x: 1}}}\n - {model: b, params: {<<: *p, k.y: 2}}\n"
    )
    a, b = parse_config(text)
    assert a.params == {"k": {"x": 1}}
    assert b.params == {"k": {"x": 1, "y": 2}}


def test_repo_config_yaml_loads_and_is_harmless():
    rules = load_config_file(str(REPO_CONFIG))
    assert rules, "the documented example should show rules"
    assert all(r.pattern.startswith("example-") for r in rules)
    ruleset_ = RuleSet(rules)
    for model in [None, "", "gpt-4o", "qwen3-32b", "default", "llama-3.1-8b"]:
        assert ruleset_.match(model) is None
    assert ruleset_.pseudo_models() == [] or all(
        p.startswith("example-") for p, _ in ruleset_.pseudo_models()
    )


def test_repo_config_yaml_shows_every_setting():
    rules = load_config_file(str(REPO_CONFIG))
    text = REPO_CONFIG.read_text(encoding="utf-8")
    for key in (
        "models:",
        "model:",
        "params:",
        "defaults:",
        "drop:",
        "think_mode:",
        "think_tags:",
        "think_tag_start:",
        "think_tag_end:",
        "enable_think_tag_filtering:",
        "think_implicit_start:",
        "reasoning_field:",
        "upstream_model_name:",
        "append_to_last_user_message:",
        "strip_think_from_history:",
        "history:",
        "implicit_unclosed:",
        "think_end_markers:",
        "variants:",
        "model: default",
    ):
        assert key in text, key
    variants = {rule.pattern: rule.variants for rule in rules if rule.variants}
    assert variants["example-qwen3"]["no-think"].params == {
        "chat_template_kwargs": {"enable_thinking": False}
    }
    first = rules[0]
    assert first.params and first.defaults and first.drop and first.think_tags
    assert first.history is not None
    assert any(rule.strip_think_from_history for rule in rules)  # the old spelling, too


@pytest.mark.parametrize(
    "text, err",
    [
        ("models: [\n", "cfg.yaml: YAML error at line 2, column 1:"),
        ("models:\n  - model: a\n    params: {x: 1\n", "cfg.yaml: YAML error at line"),
        ("models:\n  - {model: a}\n  - {model: b, model: c}\n", "line 3"),
        ("models: 1", "cfg.yaml: 'models' must be a list of rules, got number 1"),
        ("- model: a", "cfg.yaml: the top level must be a mapping with a 'models' list"),
        ("rules: []", "cfg.yaml: unknown top-level key 'rules' (allowed: models)"),
        ("models: [x]", "cfg.yaml rule 1: must be a mapping, got string 'x'"),
        ("models: [{params: {}}]", "cfg.yaml rule 1: missing 'model'"),
        ("models: [{model: 3}]", "cfg.yaml rule 1 (model '3'): model must be a non-empty string"),
        (
            "models: [{model: a}, {model: a}]",
            "cfg.yaml rule 2 (model 'a'): duplicate model 'a' (also rule 1)",
        ),
        (
            "models: [{model: a, think_mod: strip}]",
            "cfg.yaml rule 1 (model 'a'): unknown key 'think_mod' (did you mean 'think_mode'?)",
        ),
        (
            "models: [{model: a, temperature: 1}]",
            "unknown key 'temperature' (request fields go under params)",
        ),
        ("models: [{model: a, params: [1]}]", "params must be a mapping, got a list"),
        ("models: [{model: a, defaults: x}]", "defaults must be a mapping, got string 'x'"),
        ("models: [{model: a, drop: x}]", "drop must be a list of field names, got string 'x'"),
        ("models: [{model: a, drop: [1]}]", "key 1 must be a string"),
        ("models: [{model: a, drop: ['a..b']}]", "key 'a..b' has an empty part"),
        ("models: [{model: a, think_mode: fast}]", "unknown think_mode 'fast'"),
        (
            "models: [{model: a, think_implicit_start: 'true'}]",
            "think_implicit_start must be true or false",
        ),
        (
            "models: [{model: a, strip_think_from_history: 1}]",
            "strip_think_from_history must be true or false",
        ),
        (
            "models: [{model: a, enable_think_tag_filtering: 'yes'}]",
            "enable_think_tag_filtering must be true or false",
        ),
        ("models: [{model: a, think_tags: '<think>'}]", "think_tags must be a non-empty list"),
        ("models: [{model: a, think_tags: [[a, b, c]]}]", "think_tags must be a non-empty list"),
        ("models: [{model: a, reasoning_field: 1}]", "reasoning_field must be a non-empty string"),
        (
            "models: [{model: a, upstream_model_name: ''}]",
            "upstream_model_name must be a non-empty string",
        ),
        (
            "models: [{model: a, append_to_last_user_message: [x]}]",
            "append_to_last_user_message must be a string",
        ),
        ("models: [{model: a, params: {d: 2024-01-01}}]", "params.d: date can't be sent as JSON"),
        ("models: [{model: a, params: {x: .nan}}]", "params.x: nan is not a JSON number"),
        ("models: [{model: a, params: {x: {1: 2}}}]", "params.x: key 1 must be a string"),
        (
            "models: [{model: a, params: {think_mode: strip}}]",
            "params: 'think_mode' is a rule setting",
        ),
        (
            "models: [{model: a, defaults: {model: b}}]",
            "defaults: 'model' is set by model/upstream_model_name",
        ),
        ("models: [{model: a, params: {k: 1, k.x: 2}}]", "params: key 'k.x' conflicts with 'k'"),
    ],
)
def test_parse_config_err(text, err):
    with pytest.raises(ConfigError, match=re.escape(err)) as e:
        parse_config(text, "cfg.yaml")
    assert "\n" not in str(e.value)
    assert "Traceback" not in str(e.value)


def test_yaml_syntax_error_from_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("models:\n  - model: a\n   params: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml: YAML error at line 3, column \d+: ") as e:
        load_config_file(str(path))
    assert str(path) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(str(tmp_path / "nope.yaml"))


def test_not_utf8(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"models: [{model: \xff}]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config_file(str(path))


def test_yaml_scalar_that_crashes_the_yaml_library_is_a_config_error():
    # Found by tests/unit/test_fuzz.py: ruamel raises a bare ValueError for "._".
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("._", "fuzz.yaml")
