"""What a think filter is told: the modes, the tags, and one request's `ThinkConfig`.

The tag sets every stream and format derives from a config (all tags, their first characters)
are computed here, once per config.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

# inline: reasoning the upstream split off goes into the answer text (`cot_proxy.inline`).
ThinkMode = Literal["strip", "reasoning", "keep", "inline"]
THINK_MODES: tuple[str, ...] = ("strip", "reasoning", "keep", "inline")
# implicit_start with no end tag by the finish: what the held text is.
ImplicitUnclosed = Literal["auto", "answer", "think"]
IMPLICIT_UNCLOSED: tuple[str, ...] = ("auto", "answer", "think")
# The reasoning items reasoning mode writes on the Responses API (`cot_proxy.formats.responses`):
# `content` of reasoning_text, `summary` of summary_text (what Codex shows), or both.
ResponsesReasoning = Literal["text", "summary", "both"]
RESPONSES_REASONING: tuple[str, ...] = ("text", "summary", "both")
# Markers that end a block opened by these start tags and stay in the answer, when a config
# sets none: Qwen3 and Kimi-style models may open a tool call before closing the think block.
# A marker ends the block only when no end tag follows it: vLLM
# vllm/reasoning/qwen3_reasoning_parser.py partitions at "</think>" whenever one follows ("Bare
# <tool_call> mentions in reasoning text must not prematurely terminate reasoning"), and
# llama.cpp keeps such a mention in the reasoning too.
DEFAULT_END_MARKERS: dict[str, tuple[str, ...]] = {"<think>": ("<tool_call>",)}
# Between the reasoning of two blocks of one choice (reasoning mode), so words stay apart.
BLOCK_SEPARATOR = "\n\n"

DEFAULT_MAX_HELD_CHARS = 1_000_000

# reasoning_field "both": the same text in the two fields clients read (vLLM ≥ 0.16 and Ollama
# send `reasoning`; llama.cpp, DeepSeek and LM Studio send `reasoning_content`).
BOTH = "both"
BOTH_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning")


def reasoning_keys(reasoning_field: str) -> tuple[str, ...]:
    """The container keys reasoning mode writes think text to."""
    return BOTH_FIELDS if reasoning_field == BOTH else (reasoning_field,)


@dataclasses.dataclass(frozen=True)
class ThinkConfig:
    """How think content is treated for one request (global defaults overlaid by a model rule)."""

    mode: ThinkMode = "strip"
    # (start_tag, end_tag) pairs, matched together; literal and case-sensitive.
    tags: tuple[tuple[str, str], ...] = (("<think>", "</think>"),)
    # The prompt template already opened the block: all text before the first end tag is think
    # content.
    implicit_start: bool = False
    # Where reasoning mode puts the think text (message/delta field name).
    reasoning_field: str = "reasoning_content"
    # Markers that end any block and stay in the answer; None: DEFAULT_END_MARKERS per start tag.
    end_markers: tuple[str, ...] | None = None
    # implicit_start, no end tag by the finish: "auto" = think when the choice finished with
    # finish_reason "length" (cut off while thinking), else answer.
    implicit_unclosed: ImplicitUnclosed = "auto"
    # Answer wrappers, (start_tag, end_tag) pairs: outside think blocks their tags are removed
    # and what they hold stays answer (Hunyuan's <answer>…</answer>). Literal, like the tags.
    unwrap: tuple[tuple[str, str], ...] = ()
    # Responses API, reasoning mode: which family of reasoning item text and events is written.
    responses_reasoning: ResponsesReasoning = "text"

    def markers_for(self, start_tag: str) -> tuple[str, ...]:
        if self.end_markers is not None:
            return self.end_markers
        return DEFAULT_END_MARKERS.get(start_tag, ())

    @functools.cached_property
    def tag_strings(self) -> frozenset[str]:
        """Every think tag and answer-wrapper tag (what may open a block or be removed)."""
        return frozenset(tag for pair in (*self.tags, *self.unwrap) for tag in pair if tag)

    @functools.cached_property
    def tag_first_chars(self) -> frozenset[str]:
        """The characters a think or wrapper tag may begin with: text without any of them
        cannot hold (the beginning of) one."""
        return frozenset(tag[0] for tag in self.tag_strings)

    @functools.cached_property
    def split_tags(self) -> tuple[str, ...]:
        """`tag_strings` and the end markers of the start tags, sorted: where a filter's output
        may change from answer to think text or back."""
        markers = (m for start, _ in self.tags for m in self.markers_for(start))
        return tuple(sorted(self.tag_strings | {m for m in markers if m}))

    @functools.cached_property
    def split_first_chars(self) -> frozenset[str]:
        """The first characters of `split_tags`."""
        return frozenset(tag[0] for tag in self.split_tags)
