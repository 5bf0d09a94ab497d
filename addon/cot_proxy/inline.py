"""Inline mode: reasoning the upstream split off goes back into the answer text, between tags.

The reverse of reasoning mode, for clients that only render inline tags (Open WebUI, older
chat UIs); LiteLLM calls it `merge_reasoning_content_in_choices`. Per channel, the first
reasoning text opens a block with the first tag pair's start tag, and the first answer text
(or tool call, or the finish, or the end of the stream) closes it with the end tag. Text the
model wrote itself, inline think blocks included, passes unchanged.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cot_proxy.think_config import ThinkConfig

if TYPE_CHECKING:
    from cot_proxy.filters import FilterObserver


class InlineBlock:
    """One channel in inline mode: the text the model wrote passes as it is (`feed`), and a
    block of moved reasoning opens (`open_block`) and closes (`close_block`; `finish` too).

    A channel filter like `cot_proxy.think.ThinkFilter` (`cot_proxy.filters.ChannelFilter`):
    not idle while a block is open, so that the stream parses the event that must close it.
    """

    def __init__(self, config: ThinkConfig, observer: FilterObserver | None = None) -> None:
        self.config = config
        self.start_tag, self.end_tag = config.tags[0]
        self.in_block = False
        self._observer = observer
        self.think_chars = 0  # reasoning moved into the text
        self.blocks = 0  # blocks opened

    @property
    def idle(self) -> bool:
        return not self.in_block

    def feed(self, text: str) -> tuple[str, str]:
        """The model's own text: unchanged, all answer."""
        if self._observer is not None and text:
            self._observer.on_answer(text)
        return text, ""

    def finish(self, reason: object = None) -> tuple[str, str]:
        return self.close_block(), ""

    def note_answer(self, text: str) -> None:
        """Nothing to do: the model's text changes nothing here."""

    def note_reasoning(self, text: str) -> None:
        """Nothing to do: inline mode writes no reasoning field."""

    def note_dropped(self, text: str) -> None:
        if self._observer is not None:
            self._observer.on_dropped(text)

    def open_block(self, reasoning: str) -> str:
        """The answer text that carries `reasoning`: after the start tag if no block is open."""
        self.think_chars += len(reasoning)
        if self._observer is not None and reasoning:
            self._observer.on_think(reasoning)
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
