"""cot_proxy.think_families: every preset on a realistic answer of its family, whole and split
anywhere; the think_family rule key and its precedence."""

from __future__ import annotations

import dataclasses

import pytest

from cot_proxy.rules import ConfigError
from cot_proxy.rules import ModelRule
from cot_proxy.rules import parse_config
from cot_proxy.rules import parse_llm_params
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter
from cot_proxy.think_families import FAMILIES
from cot_proxy.think_families import FAMILY_NAMES
from cot_proxy.wholetext import remove_think_blocks


def run(config: ThinkConfig, pieces: list[str], finish: object = "stop") -> tuple[str, str]:
    think_filter = ThinkFilter(config)
    answer, think = [], []
    for piece in pieces:
        a, t = think_filter.feed(piece)
        answer.append(a)
        think.append(t)
    a, t = think_filter.finish(finish)
    return "".join(answer) + a, "".join(think) + t


# (family, model output, answer, reasoning), written from the cited parser's docstrings and
# test cases.
CASES = [
    (
        "qwen3",
        "<think>This is a reasoning section</think>This is the rest",
        "This is the rest",
        "This is a reasoning section",
    ),
    (
        "qwen3",
        "<think>I should call the tool.\n<tool_call>\n<function=get_weather>",
        "<tool_call>\n<function=get_weather>",
        "I should call the tool.",
    ),
    (
        "qwen3_5",
        "The user greets me.\n</think>\n\nHello! How can I help?",
        "Hello! How can I help?",
        "The user greets me.",
    ),
    (
        "deepseek_r1",
        "I need to think about this...</think>The answer is 42.",
        "The answer is 42.",
        "I need to think about this...",
    ),
    (
        "deepseek_r1",
        "<think>I need to think about this...</think>The answer is 42.",
        "The answer is 42.",
        "I need to think about this...",
    ),
    (
        "gemma4",
        "<|channel>thought\n...chain of thought reasoning...<channel|>\nFinal answer text here.",
        "Final answer text here.",
        "...chain of thought reasoning...",
    ),
    (
        "gemma4",
        "<|channel>reasoning without the label<channel|>Answer",
        "Answer",
        "reasoning without the label",
    ),
    (
        "mistral",
        "[THINK]reasoning content[/THINK]answer",
        "answer",
        "reasoning content",
    ),
    (
        "seed",
        "<seed:think>The user wants a haiku.</seed:think>Autumn moonlight",
        "Autumn moonlight",
        "The user wants a haiku.",
    ),
    (
        "kimi",
        "◁think▷Let me look at the picture.◁/think▷It is a cat.",
        "It is a cat.",
        "Let me look at the picture.",
    ),
    (
        "kimi_k2",
        "<think>Need the weather.<|tool_calls_section_begin|><|tool_call_begin|>",
        "<|tool_calls_section_begin|><|tool_call_begin|>",
        "Need the weather.",
    ),
    (
        "granite",
        "Here is my thought process: Foo Here is my response: Bar",
        "Bar",
        "Foo",
    ),
    (
        "granite",
        "Here's my thought process:\nThe sky scatters blue light.\nHere's my response:\nBlue.",
        "Blue.",
        "The sky scatters blue light.",
    ),
    (
        "hunyuan",
        "<think>\nThe user wants a greeting.\n</think>\n<answer>\nHello!\n</answer>",
        "Hello!\n",  # vLLM also drops the newline before </answer>: we keep it
        "The user wants a greeting.",
    ),
    ("hunyuan", "<answer>\nNo thinking needed.\n</answer>", "No thinking needed.\n", ""),
    (
        "command_r",
        "<|START_THINKING|>I'm\nthinking<|END_THINKING|>"
        "<|START_RESPONSE|>Hello, world!\nWhat's up?<|END_RESPONSE|>",
        "Hello, world!\nWhat's up?",
        "I'm\nthinking",
    ),
    (
        "command_r",
        "<|START_RESPONSE|>Hello, world!\nWhat's up?<|END_RESPONSE|>",
        "Hello, world!\nWhat's up?",
        "",
    ),
    ("glm", "<think>abc</think>xyz", "xyz", "abc"),
    (
        "minimax",
        "The user asks for 2+2.</think>\n\n4",
        "4",
        "The user asks for 2+2.",
    ),
]


def test_every_family_has_a_case_and_a_source():
    assert set(FAMILY_NAMES) == {family for family, *_ in CASES}
    for family in FAMILIES.values():
        assert family.source
        assert any(project in family.source for project in ("vLLM", "SGLang", "llama.cpp"))


@pytest.mark.parametrize(("family", "text", "answer", "reasoning"), CASES)
def test_preset_on_its_family_text(family, text, answer, reasoning):
    config = FAMILIES[family].apply(ThinkConfig(mode="reasoning"))
    assert remove_think_blocks(text, config) == (answer, reasoning)
    # split at every point, and character by character: the same result
    for cut in range(len(text) + 1):
        assert run(config, [text[:cut], text[cut:]]) == (answer, reasoning), cut
    assert run(config, list(text)) == (answer, reasoning)
    strip = dataclasses.replace(config, mode="strip")
    assert remove_think_blocks(text, strip) == (answer, "")


def test_implicit_families_treat_a_cut_off_answer_as_reasoning():
    config = FAMILIES["deepseek_r1"].apply(ThinkConfig(mode="reasoning"))
    assert remove_think_blocks("still thinking", config, "length") == ("", "still thinking")
    assert remove_think_blocks("no thinking", config, "stop") == ("no thinking", "")


def test_apply_keeps_mode_and_field():
    base = ThinkConfig(mode="reasoning", reasoning_field="reasoning", implicit_unclosed="think")
    config = FAMILIES["mistral"].apply(base)
    assert (config.mode, config.reasoning_field, config.implicit_unclosed) == (
        "reasoning",
        "reasoning",
        "think",
    )
    assert config.tags == (("[THINK]", "[/THINK]"),)
    assert config.end_markers == () and not config.implicit_start and config.unwrap == ()
    assert FAMILIES["command_r"].apply(base).unwrap == (("<|START_RESPONSE|>", "<|END_RESPONSE|>"),)


# --- the think_family rule key ---------------------------------------------------------------


def test_rule_family_sets_the_tags():
    (rule,) = parse_llm_params("model=m,think_family=mistral,think_mode=reasoning")
    assert rule.think_family == "mistral"
    assert rule.think_config(ThinkConfig()) == ThinkConfig(
        mode="reasoning", tags=(("[THINK]", "[/THINK]"),), end_markers=()
    )
    assert "think_family=mistral" in rule.describe()


def test_explicit_rule_keys_override_the_family():
    rule = ModelRule(
        "m",
        think_family="qwen3",
        think_tags=(("<thinking>", "</thinking>"),),
        think_implicit_start=True,
        think_end_markers=(),
    )
    config = rule.think_config(ThinkConfig())
    assert config.tags == (("<thinking>", "</thinking>"),)
    assert config.implicit_start and config.end_markers == ()
    # the single-tag spelling replaces the first pair of the family's tags
    rule = ModelRule("m", think_family="granite", think_tag_end="Answer:")
    assert rule.think_config(ThinkConfig()).tags == (
        ("Here is my thought process:", "Answer:"),
        ("Here's my thought process:", "Here's my response:"),
    )
    # implicit start off for an implicit family
    rule = ModelRule("m", think_family="deepseek_r1", think_implicit_start=False)
    assert not rule.think_config(ThinkConfig()).implicit_start


def test_rule_family_replaces_a_global_family():
    base = FAMILIES["deepseek_r1"].apply(ThinkConfig())
    config = ModelRule("m", think_family="seed").think_config(base)
    assert config.tags == (("<seed:think>", "</seed:think>"),) and not config.implicit_start
    # a rule without a family keeps the global one
    assert ModelRule("m").think_config(base) == base


def test_unknown_family_is_refused_in_both_grammars():
    with pytest.raises(ConfigError, match=r"unknown think_family 'qwen9' \(use auto\|qwen3\|"):
        parse_llm_params("model=m,think_family=qwen9")
    with pytest.raises(ConfigError, match="unknown think_family"):
        parse_config('{"models": [{"model": "m", "think_family": ["qwen3"]}]}')
