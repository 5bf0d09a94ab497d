"""A chat template's markers → the tag family its model writes, and whether its generation
prompt leaves a think block open.

Pure logic, no mitmproxy import.

The text is the template a server reports: Jinja from llama.cpp's `GET /props`
(`chat_template`), Go text/template from Ollama's `POST /api/show` (`template`). Neither is
rendered: the markers are literal strings, looked for the way llama.cpp itself picks a chat
format (`common/chat.cpp`, `common_chat_templates_apply_jinja`: `src.find("[THINK]")`, ...).
Each row names where its markers come from.
"""

from __future__ import annotations

import dataclasses
import re

from cot_proxy.think_families import FAMILIES
from cot_proxy.think_families import THINK

_CHAT_CPP = "llama.cpp common/chat.cpp (common_chat_templates_apply_jinja)"
# gpt-oss: reasoning in the analysis channel, which the servers parse out themselves; no preset
# has its tags. llama.cpp common/chat.cpp: src.find("<|channel|>") → GPT-OSS.
HARMONY = "<|channel|>"


@dataclasses.dataclass(frozen=True)
class MarkerRule:
    """A family whose template holds every one of `markers`."""

    family: str
    markers: tuple[str, ...]
    source: str


# First match wins: the specific dialects before the ones that share the plain <think> pair.
MARKER_RULES: tuple[MarkerRule, ...] = (
    MarkerRule(
        "gemma4",
        ("<|channel>", "<channel|>"),
        "vLLM vllm/reasoning/gemma4_reasoning_parser.py (start <|channel>, end <channel|>); "
        "Gemma 4 chat template (llama.cpp models/templates/google-gemma-4-31B-it.jinja)",
    ),
    MarkerRule(
        "mistral", ("[THINK]", "[/THINK]"), f"{_CHAT_CPP}: [THINK] and [/THINK] → Magistral"
    ),
    MarkerRule("seed", ("<seed:think>",), f"{_CHAT_CPP}: <seed:think> → Seed-OSS"),
    MarkerRule(
        "kimi",
        ("◁think▷",),
        "SGLang python/sglang/srt/parser/reasoning_parser.py (KimiDetector think_start_token)",
    ),
    MarkerRule(
        "kimi_k2",
        ("<|tool_calls_section_begin|>", "<think>"),
        f"{_CHAT_CPP}: <|tool_calls_section_begin|> → Kimi K2; vLLM "
        "vllm/reasoning/kimi_k2_reasoning_parser.py (<think>, tool section ends reasoning)",
    ),
    MarkerRule(
        "command_r",
        ("<|START_THINKING|>", "<|END_THINKING|>"),
        f"{_CHAT_CPP}: <|END_THINKING|><|START_ACTION|> → Command R7B; vLLM "
        "vllm/reasoning/cohere_command_reasoning_parser.py (reasoning_start_str)",
    ),
    MarkerRule(
        "granite",
        ("Here is my thought process:", "Here is my response:"),
        "vLLM vllm/reasoning/granite_reasoning_parser.py (valid_think_starts, "
        "valid_response_starts)",
    ),
    MarkerRule(
        "granite",
        ("Here's my thought process:", "Here's my response:"),
        "vLLM vllm/reasoning/granite_reasoning_parser.py (valid_think_starts, "
        "valid_response_starts)",
    ),
    MarkerRule(
        "hunyuan",
        ("<think>", "<answer>"),
        "vLLM vllm/reasoning/hunyuan_a13b_reasoning_parser.py (think_start_expr, "
        "response_start_expr <answer>)",
    ),
    MarkerRule(
        "minimax",
        ("]~!b[", "]~b]", "<think>"),
        f"{_CHAT_CPP}: ]~!b[ and ]~b] → MiniMax-M2",
    ),
    MarkerRule(
        "glm",
        ("[gMASK]<sop>", "<think>"),
        "GLM-4.5+ chat templates open with [gMASK]<sop> (llama.cpp models/templates/"
        "GLM-4.6.jinja, GLM-4.7-Flash.jinja); SGLang Glm45Detector (<think>, <tool_call>)",
    ),
    MarkerRule(
        "deepseek_r1",
        ("<｜Assistant｜>", "<think>"),
        f"{_CHAT_CPP}: <｜tool▁calls▁begin｜> → DeepSeek R1; DeepSeek's full-width role tokens "
        "(llama.cpp models/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja)",
    ),
    MarkerRule(
        "qwen3",
        ("<|im_start|>", "<think>", "<tool_call>"),
        "Qwen3 chat template (llama.cpp models/templates/Qwen-Qwen3-0.6B.jinja: ChatML, <think>, "
        "<tool_call>); SGLang Qwen3Detector (tool_start_token <tool_call>)",
    ),
)

# The start tags a generation prompt may leave open, per family (the plain pair otherwise).
_GENERATION_PROMPT = re.compile(r"\{%-?\s*(?:if|elif)\b[^%]*\badd_generation_prompt\b[^%]*-?%\}")
_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


@dataclasses.dataclass(frozen=True)
class TemplateVerdict:
    """What a template says: the family (None = the plain <think> pair or no reasoning at all),
    whether it shows reasoning markers at all, and whether its generation prompt opens a block."""

    family: str | None
    thinks: bool
    implicit_start: bool
    why: str


def read_template(text: str) -> TemplateVerdict:
    """The verdict on one chat template's text."""
    rule = next((r for r in MARKER_RULES if all(m in text for m in r.markers)), None)
    if rule is not None:
        preset = FAMILIES[rule.family]
        opens = any(opens_block(text, start, end) for start, end in preset.tags)
        if rule.family == "qwen3" and opens:
            # The qwen3_5 preset is exactly qwen3 with the block opened by the prompt.
            return TemplateVerdict("qwen3_5", True, True, _why(rule, opens))
        return TemplateVerdict(rule.family, True, preset.implicit_start or opens, _why(rule, opens))
    if HARMONY in text:
        return TemplateVerdict(None, True, False, f"template has {HARMONY} (gpt-oss harmony)")
    if THINK[0] in text:
        opens = opens_block(text, *THINK)
        why = "template has <think>" + (", its generation prompt opens it" if opens else "")
        return TemplateVerdict(None, True, opens, why)
    return TemplateVerdict(None, False, False, "template has no reasoning markers")


def _why(rule: MarkerRule, opens: bool) -> str:
    shown = " ".join(rule.markers)
    return f"template has {shown}" + (", its generation prompt opens the block" if opens else "")


def opens_block(text: str, start: str, end: str) -> bool:
    """Whether the generation prompt (the template's last `if add_generation_prompt` branch, to
    the end) writes `start` without `end` after it in the same piece of text.

    A piece is a quoted literal inside a Jinja block or the raw text between blocks: Qwen3.5
    writes '<think>\\n' (open) beside '<think>\\n\\n</think>\\n\\n' (closed, thinking off),
    DeepSeek-R1 '<｜Assistant｜><think>\\n', MiniMax-M2 '<think>' between `~` joins.
    """
    found = None
    for found in _GENERATION_PROMPT.finditer(text):
        pass
    if found is None:
        return False
    return any(_open_in(piece, start, end) for piece in _pieces(text[found.end() :]))


def _pieces(region: str) -> list[str]:
    pieces: list[str] = []
    last = 0
    for block in _BLOCK.finditer(region):
        pieces.append(region[last : block.start()])
        if not block.group().startswith("{#"):
            pieces += [a or b for a, b in _QUOTED.findall(block.group())]
        last = block.end()
    pieces.append(region[last:])
    return pieces


def _open_in(piece: str, start: str, end: str) -> bool:
    at = piece.rfind(start)
    return at >= 0 and end not in piece[at + len(start) :]
