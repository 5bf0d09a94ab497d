"""Think-block removal: a per-choice incremental state machine over answer text.

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

ThinkMode = Literal["strip", "reasoning", "keep"]
THINK_MODES: tuple[str, ...] = ("strip", "reasoning", "keep")


@dataclasses.dataclass(frozen=True)
class ThinkConfig:
    """How think content is treated for one request (global defaults overlaid by a model rule)."""

    mode: ThinkMode = "strip"
    # (start_tag, end_tag) pairs, matched together; literal and case-sensitive.
    tags: tuple[tuple[str, str], ...] = (("<think>", "</think>"),)
    # The prompt template already opened the block: all text before the first end tag is think content.
    implicit_start: bool = False
    # Where reasoning mode puts the think text (message/delta field name).
    reasoning_field: str = "reasoning_content"
