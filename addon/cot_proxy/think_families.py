"""Tag families by name: presets of think tags, implicit start, end markers and answer wrappers.

Pure logic, no mitmproxy import.

A family (`think_family` rule key, `THINK_FAMILY` globally) sets the tag-related fields of a
`ThinkConfig` at once; rule keys given beside it (think_tags, think_implicit_start,
think_end_markers, ...) override what it sets. Answer wrappers (`unwrap`) lose their tags
and keep their content as answer. Every preset is taken from a peer's reasoning
parser, named beside it (a path in that project's repository), and from nothing else: a family
whose tags could not be found in a peer's source is not listed.
"""

from __future__ import annotations

import dataclasses

from cot_proxy.think import ThinkConfig

THINK = ("<think>", "</think>")


@dataclasses.dataclass(frozen=True)
class ThinkFamily:
    """The tag settings of one model family, and where they come from."""

    name: str
    tags: tuple[tuple[str, str], ...]
    source: str  # the peer parser(s) the preset is taken from
    implicit_start: bool = False
    end_markers: tuple[str, ...] = ()
    unwrap: tuple[tuple[str, str], ...] = ()

    def apply(self, config: ThinkConfig) -> ThinkConfig:
        """`config` with this family's tag settings (mode and reasoning field unchanged)."""
        return dataclasses.replace(
            config,
            tags=self.tags,
            implicit_start=self.implicit_start,
            end_markers=self.end_markers,
            unwrap=self.unwrap,
        )


_PRESETS: tuple[ThinkFamily, ...] = (
    # The model writes <think> itself (Qwen3 up to the 2507 releases); a tool call may open
    # before </think>.
    ThinkFamily(
        "qwen3",
        (THINK,),
        "SGLang python/sglang/srt/parser/reasoning_parser.py (Qwen3Detector: force_reasoning "
        "off, tool_start_token <tool_call>); vLLM vllm/reasoning/qwen3_reasoning_parser.py",
        end_markers=("<tool_call>",),
    ),
    # Qwen3.5 (and the -Thinking-2507 models): the template puts <think> in the prompt, the
    # model writes only </think>.
    ThinkFamily(
        "qwen3_5",
        (THINK,),
        'vLLM vllm/reasoning/qwen3_reasoning_parser.py (Qwen3ReasoningParser: "Starting with '
        'Qwen3.5, the chat template places <think> in the prompt"; <tool_call> ends reasoning)',
        implicit_start=True,
        end_markers=("<tool_call>",),
    ),
    ThinkFamily(
        "deepseek_r1",
        (THINK,),
        "vLLM vllm/reasoning/deepseek_r1_reasoning_parser.py; SGLang "
        "python/sglang/srt/parser/reasoning_parser.py (DeepSeekR1Detector: force_reasoning, "
        "R1 without the start tag, R1-0528 with it)",
        implicit_start=True,
    ),
    # <|channel>thought\n…<channel|>: the "thought\n" label is part of the start tag (vLLM
    # and SGLang strip it from the reasoning); a bare <|channel> opens a block too.
    ThinkFamily(
        "gemma4",
        (("<|channel>thought\n", "<channel|>"), ("<|channel>", "<channel|>")),
        "vLLM vllm/reasoning/gemma4_reasoning_parser.py (start <|channel>, end <channel|>, "
        "label thought\\n; <|tool_call> ends reasoning in is_reasoning_end); SGLang "
        "python/sglang/srt/parser/reasoning_parser.py (Gemma4Detector: think_start_self_label)",
        end_markers=("<|tool_call>",),
    ),
    ThinkFamily(
        "mistral",
        (("[THINK]", "[/THINK]"),),
        "vLLM vllm/reasoning/mistral_reasoning_parser.py (mistral_common SpecialTokens "
        "begin_think/end_think); SGLang python/sglang/srt/parser/reasoning_parser.py "
        "(MistralDetector); llama.cpp common/chat.cpp (common_chat_parse_magistral)",
    ),
    ThinkFamily(
        "seed",
        (("<seed:think>", "</seed:think>"),),
        "vLLM vllm/reasoning/seedoss_reasoning_parser.py (SeedOSSReasoningParser)",
    ),
    ThinkFamily(
        "kimi",
        (("◁think▷", "◁/think▷"),),
        "SGLang python/sglang/srt/parser/reasoning_parser.py (KimiDetector, force_reasoning off)",
    ),
    ThinkFamily(
        "kimi_k2",
        (THINK,),
        "SGLang python/sglang/srt/parser/reasoning_parser.py (KimiK2Detector: tool_start_token "
        "<|tool_calls_section_begin|>)",
        end_markers=("<|tool_calls_section_begin|>",),
    ),
    # Plain-text markers, in both spellings the parser accepts (a block closes with the
    # spelling of its own start).
    ThinkFamily(
        "granite",
        (
            ("Here is my thought process:", "Here is my response:"),
            ("Here's my thought process:", "Here's my response:"),
        ),
        "vLLM vllm/reasoning/granite_reasoning_parser.py (valid_think_starts, "
        "valid_response_starts)",
    ),
    # <think>\n…\n</think>\n<answer>\n…\n</answer>: the answer comes wrapped.
    ThinkFamily(
        "hunyuan",
        (THINK,),
        "vLLM vllm/reasoning/hunyuan_a13b_reasoning_parser.py (HunyuanA13BReasoningParser: "
        "think_start_expr, response_start_expr, response_end_expr)",
        unwrap=(("<answer>", "</answer>"),),
    ),
    ThinkFamily(
        "command_r",
        (("<|START_THINKING|>", "<|END_THINKING|>"),),
        "llama.cpp common/chat.cpp (common_chat_parse_command_r7b); vLLM "
        "vllm/reasoning/cohere_command_reasoning_parser.py (reasoning_start_str, "
        "reasoning_end_str, COMMAND_A_JSON_TAG)",
        unwrap=(("<|START_RESPONSE|>", "<|END_RESPONSE|>"),),
    ),
    ThinkFamily(
        "glm",
        (THINK,),
        "SGLang python/sglang/srt/parser/reasoning_parser.py (Glm45Detector: tool_start_token "
        "<tool_call>); vLLM vllm/reasoning/glm4_moe_reasoning_parser.py",
        end_markers=("<tool_call>",),
    ),
    # MiniMax M2 writes no <think>, only </think>.
    ThinkFamily(
        "minimax",
        (THINK,),
        "vLLM vllm/reasoning/minimax_m2_reasoning_parser.py (MiniMaxM2ReasoningParser: \"don't "
        'generate <think> start token, only </think>")',
        implicit_start=True,
    ),
)

FAMILIES: dict[str, ThinkFamily] = {family.name: family for family in _PRESETS}
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)
