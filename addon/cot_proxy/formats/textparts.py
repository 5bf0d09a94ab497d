"""A think filter's output in the order the text had it: answer and think parts, interleaved.

`ThinkFilter.feed` returns all the answer and all the think text of what it is given, in two
strings. Formats that put think text in blocks of its own, next to the answer (Anthropic's
thinking blocks), need to know what came first: "a<think>x</think>b" is a, then x, then b.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from cot_proxy.filters import ChannelFilter
from cot_proxy.think import ThinkConfig

TEXT, THINKING = "text", "thinking"
Part = tuple[str, str]  # (TEXT or THINKING, text)


class TextSplitter:
    """A channel's filter output as parts, in the order the text had them.

    `ThinkFilter.feed` returns all the answer and all the think text of what it is given. Fed
    the pieces between tags one at a time, each call returns one kind only, except where a tag
    held from the piece before completes (then the think text came first). Only reasoning mode
    needs the order; strip mode drops the think text and inline mode has none.
    """

    def __init__(self, config: ThinkConfig) -> None:
        self.ordered = config.mode == "reasoning"
        self.tags = config.split_tags
        self.first_chars = config.split_first_chars

    def feed(self, think_filter: ChannelFilter, text: str) -> list[Part]:
        parts: list[Part] = []
        if not self.ordered:
            _add(parts, TEXT, think_filter.feed(text)[0])
            return parts
        for piece in self._pieces(text):
            answer, think = think_filter.feed(piece)
            _add(parts, THINKING, think)
            _add(parts, TEXT, answer)
        return parts

    def finish(self, think_filter: ChannelFilter, reason: object, parts: list[Part]) -> list[Part]:
        """The text the filter still holds, added to `parts`: answer first (an implicit block
        with no end tag is answer up to a start tag the model wrote)."""
        answer, think = think_filter.finish(reason)
        _add(parts, TEXT, answer)
        if self.ordered:
            _add(parts, THINKING, think)
        return parts

    def _pieces(self, text: str) -> list[str]:
        if not any(char in text for char in self.first_chars):
            return [text]
        cuts = {0, len(text)}
        for tag in self.tags:
            pos = text.find(tag)
            while pos >= 0:
                cuts.update((pos, pos + len(tag)))
                pos = text.find(tag, pos + 1)
        points = sorted(cuts)
        return [text[start:end] for start, end in zip(points, points[1:], strict=False)]


def _add(parts: list[Part], kind: str, text: str) -> None:
    if not text:
        return
    if parts and parts[-1][0] == kind:
        parts[-1] = (kind, parts[-1][1] + text)
    else:
        parts.append((kind, text))
