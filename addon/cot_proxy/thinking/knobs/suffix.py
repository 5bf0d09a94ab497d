"""`no_think_suffix`: `/no_think` at the end of the last user message, Qwen3's soft switch.

"add /think and /no_think to user prompts or system messages to switch the model's thinking
mode from turn to turn" (Qwen/Qwen3-8B model card, "Advanced Usage: Switching Between Thinking
and Non-Thinking Mode via User Input"): the template reads it wherever the server passes no
other switch. Only off is written (thinking is the default); nothing is read or removed from
what the user wrote. Pure logic, no mitmproxy import.
"""

from __future__ import annotations

from typing import Any

from cot_proxy.formats.choices import chat
from cot_proxy.formats.registry import format_of
from cot_proxy.thinking.levels import OFF
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import Shape
from cot_proxy.thinking.levels import express

NO_THINK = " /no_think"


class NoThinkSuffix:
    name = "no_think_suffix"

    def read(self, body: dict[str, Any], endpoint: str | None) -> Level | None:
        return None

    def remove(self, body: dict[str, Any], endpoint: str | None) -> bool:
        return False

    def write(
        self, body: dict[str, Any], level: Level, shape: Shape, endpoint: str | None
    ) -> str | None:
        if express(level, shape) != OFF:
            return None
        request = format_of(endpoint) or chat  # a path of no known format: read as chat
        if request.append_suffix(body, NO_THINK) is None:
            return None
        return "/no_think appended"


NO_THINK_SUFFIX = NoThinkSuffix()
