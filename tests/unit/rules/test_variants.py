"""Rule variants: `NAME@LABEL` gets the rule of NAME with its variant LABEL on top."""

from typing import Any

import pytest

from cot_proxy.formats.choices_request import merge_models_list
from cot_proxy.rewrite import rewrite_request
from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import RuleSet
from cot_proxy.rules import merge_rules
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.think import ThinkConfig

CONFIG = """
models:
  - model: qwen3
    params: {temperature: 0.6, chat_template_kwargs: {enable_thinking: true, keep: 1}}
    defaults: {max_tokens: 100}
    drop: [logit_bias]
    variants:
      no-think:
        params: {chat_template_kwargs.enable_thinking: false}
        drop: [seed]
      reasoning:
        think_mode: reasoning
        reasoning_field: reasoning
        defaults: {max_tokens: 9000}
  - model: pseudo
    upstream_model_name: Org/Real-8B
    variants:
      fast: {params: {top_k: 1}}
      other-upstream: {upstream_model_name: Org/Small-1B}
  - model: llama-*
    variants:
      cold: {params: {temperature: 0}}
  - model: "exact@cold"
    params: {exact: true}
"""


@pytest.fixture
def rules() -> RuleSet:
    return RuleSet(parse_config(CONFIG))


def matched(rules: RuleSet, model: str) -> ModelRule:
    rule = rules.match(model)
    assert rule is not None, model
    return rule


def sent(rules: RuleSet, body: dict[str, Any]) -> dict[str, Any]:
    rewrite_request(body, matched(rules, body["model"]))
    return body


def test_variant_overlays_its_rule_and_goes_upstream_as_the_name(rules):
    body = {"model": "qwen3@no-think", "logit_bias": {}, "seed": 1, "max_tokens": None}
    assert sent(rules, body) == {
        "model": "qwen3",
        "max_tokens": 100,
        "temperature": 0.6,
        "chat_template_kwargs": {"enable_thinking": False, "keep": 1},
    }
    # the rule itself is untouched
    assert sent(rules, {"model": "qwen3"})["chat_template_kwargs"]["enable_thinking"] is True


def test_variant_think_settings(rules):
    rule = matched(rules, "qwen3@reasoning")
    config = rule.think_config(ThinkConfig())
    assert (config.mode, config.reasoning_field) == ("reasoning", "reasoning")
    assert matched(rules, "qwen3").think_config(ThinkConfig()).mode == "strip"
    assert sent(rules, {"model": "qwen3@reasoning"})["max_tokens"] == 9000


def test_variant_of_a_renamed_model_uses_its_upstream_name(rules):
    assert sent(rules, {"model": "pseudo@fast"}) == {"model": "Org/Real-8B", "top_k": 1}
    assert sent(rules, {"model": "pseudo@other-upstream"}) == {"model": "Org/Small-1B"}


def test_variant_of_a_glob_rule_goes_upstream_as_the_requested_name(rules):
    assert sent(rules, {"model": "llama-3-8b@cold"}) == {"model": "llama-3-8b", "temperature": 0}


@pytest.mark.parametrize(
    ("model", "pattern"),
    [
        ("qwen3@other", None),  # no such variant: not ours, passed on unchanged
        ("llama-3@other", "llama-*"),  # the glob still matches the whole name
        ("exact@cold", "exact@cold"),  # an exact rule for the whole name comes first
        ("@no-think", None),
        ("qwen3@", None),
        ("qwen3@no-think@x", None),
    ],
)
def test_names_that_are_not_variants(rules, model, pattern):
    rule = rules.match(model)
    assert (rule.pattern if rule else None) == pattern
    if rule is not None:
        assert sent(rules, {"model": model})["model"] == model


def test_the_last_at_sign_separates_the_label():
    rules = RuleSet(parse_config("models: [{model: org/m@v2, variants: {x: {params: {a: 1}}}}]"))
    assert sent(rules, {"model": "org/m@v2@x"}) == {"model": "org/m@v2", "a": 1}


def test_pseudo_models_list_variants_of_exact_rules_only(rules):
    assert rules.pseudo_models() == [
        ("qwen3@no-think", "qwen3"),
        ("qwen3@reasoning", "qwen3"),
        ("pseudo", "Org/Real-8B"),
        ("pseudo@fast", "Org/Real-8B"),
        ("pseudo@other-upstream", "Org/Small-1B"),
    ]
    listing = {"data": [{"id": "qwen3", "object": "model", "owned_by": "vllm"}]}
    merged = merge_models_list(listing, rules.pseudo_models())
    assert merged is not None
    assert merged["data"][1] == {"id": "qwen3@no-think", "object": "model", "owned_by": "vllm"}


def test_env_rule_over_the_file_keeps_its_variants():
    env = parse_llm_params("model=qwen3,temperature=0.1,think_mode=keep")
    rules = RuleSet(merge_rules(env, parse_config(CONFIG)))
    body = sent(rules, {"model": "qwen3@no-think"})
    assert body["temperature"] == 0.1
    assert body["chat_template_kwargs"]["enable_thinking"] is False
    assert matched(rules, "qwen3@no-think").think_mode == "keep"
    assert matched(rules, "qwen3@reasoning").think_mode == "reasoning"  # the variant wins


def test_describe_shows_the_variants(rules):
    line = rules.describe()[0]
    assert "variant @no-think (chat_template_kwargs.enable_thinking=false, drop seed)" in line
    assert "variant @reasoning (default max_tokens=9000, think_mode=reasoning" in line


def test_a_variant_with_nothing_set():
    rules = RuleSet(parse_config("models: [{model: a, params: {x: 1}, variants: {same: {}}}]"))
    assert sent(rules, {"model": "a@same"}) == {"model": "a", "x": 1}


@pytest.mark.parametrize(
    ("variants", "error"),
    [
        ("[no-think]", "variants must be a mapping of label to partial rule, got a list"),
        ("{x: 5}", "variants.x must be a mapping (params, defaults, drop, think settings)"),
        ("{x: {model: b}}", "variants.x: a variant can't set 'model': a request names it"),
        ("{x: {variants: {y: {}}}}", "variants.x: a variant can't set 'variants': variants do not"),
        ("{x: {temperature: 0}}", "variants.x: unknown key 'temperature' (request fields go under"),
        (
            "{x: {think_mod: keep}}",
            "variants.x: unknown key 'think_mod' (did you mean 'think_mode'?",
        ),
        ("{x: {think_mode: loud}}", "variants.x: unknown think_mode 'loud'"),
        ("{x: {params: {think_mode: keep}}}", "variants.x: params: 'think_mode' is a rule setting"),
        ("{'a@b': {}}", "variant label 'a@b' must be a non-empty string without '@'"),
        ("{'': {}}", "variant label '' must be a non-empty string"),
        ("{3: {}}", "variant label 3 must be a non-empty string"),
    ],
)
def test_bad_variants(variants, error):
    with pytest.raises(ConfigError) as caught:
        parse_config(f"models: [{{model: a}}, {{model: qwen3, variants: {variants}}}]")
    assert "config.yaml rule 2 (model 'qwen3'): " + error in str(caught.value)


def test_the_default_rule_has_no_variants():
    with pytest.raises(ConfigError, match="the default rule has no model name"):
        parse_config("models: [{model: default, variants: {x: {}}}]")
