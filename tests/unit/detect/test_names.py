"""cot_proxy.detect.names: model names and repository paths → the family, for every preset."""

from __future__ import annotations

import pytest

from cot_proxy.detect.names import NAME_RULES
from cot_proxy.detect.names import read_name
from cot_proxy.think_families import FAMILY_NAMES

# (name as a server reports it, family): Hugging Face paths (vLLM root, SGLang model_path),
# Ollama library names, LM Studio ids.
NAMED = [
    ("Qwen/Qwen3-8B", "qwen3"),
    ("qwen3:8b", "qwen3"),
    ("Qwen/Qwen3.5-4B", "qwen3_5"),
    ("qwen3.5:4b", "qwen3_5"),
    ("Qwen/Qwen3-235B-A22B-Thinking-2507", "qwen3_5"),
    ("Qwen/QwQ-32B", "deepseek_r1"),
    ("deepseek-ai/DeepSeek-R1-0528", "deepseek_r1"),
    ("deepseek-r1:8b", "deepseek_r1"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek_r1"),
    ("google/gemma-4-31B-it", "gemma4"),
    ("gemma4:27b", "gemma4"),
    ("mistralai/Magistral-Small-2509", "mistral"),
    ("mistralai/Ministral-3-14B-Reasoning-2512", "mistral"),
    ("ByteDance-Seed/Seed-OSS-36B-Instruct", "seed"),
    ("moonshotai/Kimi-VL-A3B-Thinking-2506", "kimi"),
    ("moonshotai/Kimi-K2-Thinking", "kimi_k2"),
    ("ibm-granite/granite-3.2-8b-instruct", "granite"),
    ("tencent/Hunyuan-A13B-Instruct", "hunyuan"),
    ("CohereLabs/command-a-reasoning-08-2025", "command_r"),
    ("CohereForAI/c4ai-command-r7b-12-2024", "command_r"),
    ("zai-org/GLM-4.5-Air", "glm"),
    ("zai-org/GLM-4.7-Flash", "glm"),
    ("MiniMaxAI/MiniMax-M2", "minimax"),
]


@pytest.mark.parametrize("name,family", NAMED)
def test_names(name: str, family: str) -> None:
    verdict = read_name(name)
    assert verdict is not None and (verdict.family, verdict.thinks) == (family, True)


def test_every_preset_has_a_name() -> None:
    assert {f for _, f in NAMED} == set(FAMILY_NAMES)
    assert {r.family for r in NAME_RULES} - {None} == set(FAMILY_NAMES)
    assert all(r.source for r in NAME_RULES)


@pytest.mark.parametrize(
    "name", ["Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-coder:30b", "moonshotai/Kimi-K2-Instruct"]
)
def test_non_thinking_releases(name: str) -> None:
    verdict = read_name(name)
    assert verdict is not None and (verdict.family, verdict.thinks) == (None, False)


def test_unknown_names_and_order() -> None:
    assert read_name("gpt-4o", "llama3.1:8b", None, "") is None
    # the first name a row knows decides (the repository path before the served alias)
    verdict = read_name("my-alias", "Qwen/Qwen3.5-27B")
    assert verdict is not None and verdict.family == "qwen3_5" and "Qwen3.5" in verdict.why
