"""A model's name (or its repository path) → the tag family it writes.

Pure logic, no mitmproxy import.

For servers that report no chat template (vLLM, SGLang, LM Studio, hosted APIs) the name is
what is known: vLLM's `/v1/models` `root` is the Hugging Face path, SGLang's `model_path` too,
Ollama's and LM Studio's ids are library names (`qwen3:8b`, `qwen/qwen3-8b`). Every preset
has a row; each row names the model card or the peer's table that ties those names to it.
"""

from __future__ import annotations

import dataclasses
import re

_VLLM_TABLE = "vLLM docs/features/reasoning_outputs.md (Supported Models)"
_SGLANG_TABLE = "SGLang docs/advanced_features/separate_reasoning.md (Supported Models)"


@dataclasses.dataclass(frozen=True)
class NameRule:
    """Names matching `pattern` (searched, case-insensitive) write `family` (None: no reasoning)."""

    pattern: re.Pattern[str]
    family: str | None
    source: str


def _rule(pattern: str, family: str | None, source: str) -> NameRule:
    return NameRule(re.compile(pattern, re.IGNORECASE), family, source)


# First match wins: the narrower names before the family names they contain.
NAME_RULES: tuple[NameRule, ...] = (
    # Qwen3.5 and the -Thinking-2507 models: <think> is in the prompt, the model writes </think>.
    _rule(
        r"qwen3\.[5-9]|qwen3[-_.]?[5-9][-_:]|qwen3.*thinking-2507",
        "qwen3_5",
        "vLLM vllm/reasoning/qwen3_reasoning_parser.py (Qwen3.5 places <think> in the prompt); "
        f"{_SGLANG_TABLE} (Qwen3-Thinking-2507 always thinks)",
    ),
    # Qwen3 -Instruct-2507 and Qwen3-Coder: non-thinking releases.
    _rule(
        r"qwen3.*instruct-2507|qwen3-coder",
        None,
        "Qwen model cards (Qwen3-*-Instruct-2507, Qwen3-Coder: non-thinking mode only)",
    ),
    _rule(r"qwq", "deepseek_r1", f"{_VLLM_TABLE}: QwQ-32B → deepseek_r1"),
    _rule(r"qwen3", "qwen3", f"{_VLLM_TABLE}: Qwen3 series → qwen3; {_SGLANG_TABLE}"),
    _rule(
        r"deepseek[-_]?r1|r1[-_]distill|deepseek-reasoner",
        "deepseek_r1",
        f"{_VLLM_TABLE}: DeepSeek R1 series → deepseek_r1; {_SGLANG_TABLE}",
    ),
    _rule(r"gemma[-_]?4", "gemma4", f"{_VLLM_TABLE}: Gemma 4 series → gemma4"),
    _rule(
        r"magistral|ministral-3.*reasoning|devstral.*reasoning",
        "mistral",
        "vLLM vllm/reasoning/mistral_reasoning_parser.py (Magistral); mistralai model cards "
        "(Magistral, Ministral-3-*-Reasoning: [THINK]…[/THINK])",
    ),
    _rule(r"seed[-_]?oss", "seed", "vLLM vllm/reasoning/seedoss_reasoning_parser.py (Seed-OSS)"),
    _rule(
        r"kimi[-_]?vl.*thinking|kimi[-_]?k1\.?5",
        "kimi",
        "SGLang reasoning_parser.py (KimiDetector ◁think▷); moonshotai/Kimi-VL-A3B-Thinking card",
    ),
    _rule(r"kimi[-_]?k2[-_]instruct", None, "moonshotai/Kimi-K2-Instruct card (no thinking)"),
    _rule(
        r"kimi[-_]?k2",
        "kimi_k2",
        "vLLM vllm/reasoning/kimi_k2_reasoning_parser.py (Kimi K2: <think>, "
        "<|tool_calls_section_begin|>); SGLang KimiK2Detector",
    ),
    _rule(r"granite[-_]?3\.2", "granite", f"{_VLLM_TABLE}: IBM Granite 3.2 → granite"),
    _rule(r"hunyuan[-_]?a13b", "hunyuan", f"{_VLLM_TABLE}: Hunyuan A13B series → hunyuan_a13b"),
    _rule(
        r"command[-_]?a[-_]?reasoning|command[-_]?r7b",
        "command_r",
        f"{_VLLM_TABLE}: Cohere Command A Reasoning → cohere_command3; llama.cpp "
        "common/chat.cpp (Command R7B)",
    ),
    _rule(
        r"glm[-_]?4\.[5-9]|glm[-_]?5|glm[-_]?z1", "glm", f"{_VLLM_TABLE}: GLM-4.5 series → glm45"
    ),
    _rule(r"minimax[-_]?m2", "minimax", f"{_VLLM_TABLE}: MiniMax-M2 → minimax_m2_append_think"),
)


@dataclasses.dataclass(frozen=True)
class NameVerdict:
    family: str | None
    thinks: bool
    why: str


def read_name(*names: str | None) -> NameVerdict | None:
    """The verdict of the first of `names` a row matches (the most specific name first), or
    None when no row knows any of them."""
    for name in names:
        if not name:
            continue
        for rule in NAME_RULES:
            if rule.pattern.search(name):
                return NameVerdict(rule.family, rule.family is not None, f"name {name!r}")
    return None
