"""cot_proxy.detect.markers: real chat templates → the family and whether the prompt opens it."""

from __future__ import annotations

import pytest

from cot_proxy.detect.markers import MARKER_RULES
from cot_proxy.detect.markers import opens_block
from cot_proxy.detect.markers import read_template
from cot_proxy.think_families import FAMILY_NAMES
from tests.fixtures.detect import OLLAMA_LLAMA3_TEMPLATE
from tests.fixtures.detect import OLLAMA_QWEN3_TEMPLATE
from tests.fixtures.detect import template

# (template file, family, implicit start): what each real template says.
REAL = [
    ("Qwen-Qwen3-0.6B", "qwen3", False),
    # Qwen3.5 and QwQ write '<think>\n' into the generation prompt: the model writes </think> only.
    ("Qwen3.5-4B", "qwen3_5", True),
    ("Qwen-QwQ-32B", "qwen3_5", True),
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "deepseek_r1", True),
    ("google-gemma-4-31B-it", "gemma4", False),
    ("mistralai-Ministral-3-14B-Reasoning-2512", "mistral", False),
    ("ByteDance-Seed-OSS", "seed", False),
    ("Kimi-K2-Thinking", "kimi_k2", False),
    ("CohereForAI-c4ai-command-r7b-12-2024-tool_use", "command_r", False),
    ("GLM-4.6", "glm", False),
    # GLM-4.7-Flash opens <think> in the prompt ('</think>' if thinking is off else '<think>').
    ("GLM-4.7-Flash", "glm", True),
    ("MiniMax-M2", "minimax", True),
]

# Families with no template in llama.cpp's collection: the markers their parsers look for, in a
# minimal synthetic template (a turn loop and a generation prompt).
SYNTHETIC = [
    ("{% for m in messages %}◁think▷{{ m.reasoning }}◁/think▷{{ m.content }}{% endfor %}", "kimi"),
    (
        "{% if thinking %}Respond with 'Here is my thought process:' then 'Here is my "
        "response:'{% endif %}",
        "granite",
    ),
    (
        "{% if thinking %}Start with 'Here's my thought process:' and 'Here's my response:'"
        "{% endif %}",
        "granite",
    ),
    ("<|startoftext|>{{ m }}<think>\n{{ r }}\n</think>\n<answer>\n{{ a }}\n</answer>", "hunyuan"),
]


@pytest.mark.parametrize("name,family,implicit", REAL)
def test_real_templates(name: str, family: str, implicit: bool) -> None:
    verdict = read_template(template(name))
    assert (verdict.family, verdict.implicit_start, verdict.thinks) == (family, implicit, True)


@pytest.mark.parametrize("text,family", SYNTHETIC)
def test_markers_of_families_without_a_real_template(text: str, family: str) -> None:
    assert read_template(text).family == family


def test_every_preset_is_reached_by_a_template() -> None:
    reached = {f for _, f, _ in REAL} | {f for _, f in SYNTHETIC}
    assert reached == set(FAMILY_NAMES)
    # and every marker row names a preset and a source
    assert {r.family for r in MARKER_RULES} <= set(FAMILY_NAMES)
    assert all(r.source for r in MARKER_RULES)


def test_a_template_without_reasoning_markers() -> None:
    verdict = read_template(template("meta-llama-Llama-3.1-8B-Instruct"))
    assert (verdict.family, verdict.thinks, verdict.implicit_start) == (None, False, False)


def test_gpt_oss_thinks_in_its_own_channel() -> None:
    verdict = read_template(template("openai-gpt-oss-120b"))
    assert (verdict.family, verdict.thinks) == (None, True)


def test_ollama_go_templates() -> None:
    # Ollama's templates are Go text/template: markers count, there is no add_generation_prompt.
    qwen3 = read_template(OLLAMA_QWEN3_TEMPLATE)
    assert (qwen3.family, qwen3.implicit_start) == ("qwen3", False)
    assert read_template(OLLAMA_LLAMA3_TEMPLATE).thinks is False


def test_a_plain_think_template_may_open_the_block() -> None:
    text = "{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}{{ 'A:<think>\\n' }}{% endif %}"
    verdict = read_template(text)
    assert (verdict.family, verdict.thinks, verdict.implicit_start) == (None, True, True)


@pytest.mark.parametrize(
    "generation_prompt,opens",
    [
        ("{{- '<think>\\n\\n</think>\\n\\n' }}", False),  # thinking off: closed
        ("{{- '<think>\\n' }}", True),
        ("{{ ']~b]ai' ~ '\\n' ~ '<think>' ~ '\\n' }}", True),  # MiniMax: joined with ~
        ("<|assistant|><think>", True),  # raw text between blocks
        ("{# <think> in a comment #}", False),
        ("{{ 'no tags here' }}", False),
    ],
)
def test_opens_block(generation_prompt: str, opens: bool) -> None:
    text = (
        "<think>{{ history }}</think>{%- if add_generation_prompt %}"
        + generation_prompt
        + "{% endif %}"
    )
    assert opens_block(text, "<think>", "</think>") is opens


def test_only_the_generation_prompt_counts() -> None:
    # an open <think> in the history part, a closed one in the prompt
    text = "{{ '<think>' }}{{ r }}{% if add_generation_prompt %}{{ '<think></think>' }}{% endif %}"
    assert opens_block(text, "<think>", "</think>") is False
    assert opens_block("{{ '<think>' }}", "<think>", "</think>") is False  # no prompt at all
