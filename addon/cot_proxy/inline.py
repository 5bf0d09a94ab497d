"""Inline mode: reasoning the upstream split off goes back into the answer text, between tags.

The reverse of reasoning mode, for clients that only render inline tags (Open WebUI, older
chat UIs); LiteLLM calls it `merge_reasoning_content_in_choices`. Per channel, the first
reasoning text opens a block with the first tag pair's start tag, and the first answer text
(or tool call, or the finish, or the end of the stream) closes it with the end tag. Text the
model wrote itself, inline think blocks included, passes unchanged.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses

from cot_proxy.think import DEFAULT_MAX_HELD_CHARS
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter


class InlineFilter(ThinkFilter):
    """One channel in inline mode: a keep-mode filter for the answer text, plus whether a block
    of moved reasoning is open (`open_block` / `close_block`; `finish` closes it too).

    Not idle while a block is open, so that the stream parses the event that must close it.
    """

    def __init__(self, config: ThinkConfig, max_held_chars: int = DEFAULT_MAX_HELD_CHARS) -> None:
        # The text the model wrote is left as it is: keep mode for it.
        super().__init__(dataclasses.replace(config, mode="keep"), max_held_chars)
        self.start_tag, self.end_tag = config.tags[0]
        self.in_block = False

    @property
    def idle(self) -> bool:
        return not self.in_block

    def open_block(self, reasoning: str) -> str:
        """The answer text that carries `reasoning`: after the start tag if no block is open."""
        self.think_chars += len(reasoning)
        if self.in_block:
            return reasoning
        self.in_block = True
        self.blocks += 1
        return self.start_tag + reasoning

    def close_block(self) -> str:
        """The end tag if a block is open (it is then closed), else ""."""
        if not self.in_block:
            return ""
        self.in_block = False
        return self.end_tag

    def finish(self, reason: object = None) -> tuple[str, str]:
        return self.close_block(), ""


def new_filter(config: ThinkConfig, max_held_chars: int = DEFAULT_MAX_HELD_CHARS) -> ThinkFilter:
    """The filter for one channel of an answer under `config`."""
    if config.mode == "inline":
        return InlineFilter(config, max_held_chars)
    return ThinkFilter(config, max_held_chars)
