"""The text a think filter holds back whole, and when it lets it go.

After an end marker (`ThinkConfig.markers_for`: a `<tool_call>` inside a `<think>` block), the
block ends at the marker only when its end tag does not follow: from the marker on, the text is
held until that end tag (then it was all think text, the marker a mention) or the finish (then
the marker and what follows are answer). Past `max_held_chars` held after a marker, the held
text is think text (fail closed) and the block goes on.

implicit_start: everything before the first end tag (of any pair) is think text, so all text is
held until that tag. Leading whitespace followed by a start tag opens the block explicitly
instead (the text then flows progressively as think text). With no end tag by `finish()`, or
once more than `max_held_chars` are held (warning), the held text is handed back as if
implicit_start were off: it is answer, except that explicit tag pairs inside it are still
honoured, and filtering continues with explicit tags. With no end tag at `finish(reason)`, the
held text is think text instead when `config.implicit_unclosed` is "think", or "auto" and
`reason` is "length" (the model was cut off while thinking).

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import enum
import logging

from cot_proxy.tags import TagMatcher
from cot_proxy.think_config import ThinkConfig

logger = logging.getLogger("cot_proxy.think")


class State(enum.Enum):
    ANSWER = "answer"  # outside any block
    INSIDE = "inside"  # in a block, waiting for its own end tag
    MARKED = "marked"  # in a block after an end marker: held until its end tag or the finish
    IMPLICIT = "implicit"  # implicit_start, first end tag not seen yet: everything is held


class HeldText:
    """The held-text half of `cot_proxy.think.ThinkFilter`, its one subclass, whose explicit
    tag machine (`_run`, `_open_block`, `_close_block`, `_end_think`, `_emit_think`) it calls."""

    config: ThinkConfig
    max_held_chars: int
    blocks: int
    _state: State
    _close: TagMatcher  # the open block's end tag, without markers
    _any_end: TagMatcher
    _any_marker: TagMatcher | None
    _starts: TagMatcher
    _held: list[str]
    _held_len: int
    _held_tail: str  # last chars of the held text, for end tags cut across feeds
    _opener_checked: bool

    def _run(self, text: str, answer: list[str], think: list[str], final: bool = False) -> None:
        raise NotImplementedError

    def _open_block(self, start_tag: str) -> None:
        raise NotImplementedError

    def _close_block(self) -> None:
        raise NotImplementedError

    def _end_think(self) -> None:
        raise NotImplementedError

    def _emit_think(self, text: str, think: list[str]) -> None:
        raise NotImplementedError

    def _clear_held(self) -> None:
        self._held = []
        self._held_len = 0
        self._held_tail = ""

    # -- after an end marker ------------------------------------------------------------------

    def _feed_marked(self, text: str, think: list[str]) -> str | None:
        """Hold text from an end marker on until the block's end tag; return the text after
        that tag (the held text was think text), or None while still holding."""
        window = self._held_tail + text
        offset = self._held_len - len(self._held_tail)
        self._held.append(text)
        self._held_len += len(text)
        pos, tag = self._close.search(window)
        if tag is not None:
            held = "".join(self._held)
            cut = offset + pos
            self._clear_held()
            self._emit_think(held[:cut], think)
            self._close_block()
            return held[cut + len(tag) :]
        keep = self._close.max_len - 1
        self._held_tail = window[-keep:] if keep else ""
        if self._held_len > self.max_held_chars:
            logger.warning(
                "think block: no end tag within %d chars after an end marker; the marker stays "
                "in the think text",
                self.max_held_chars,
            )
            held = "".join(self._held)
            self._clear_held()
            self._state = State.INSIDE
            self._emit_think(held, think)
        return None

    # -- implicit start -----------------------------------------------------------------------

    def _finish_implicit(self, reason: object, answer: list[str], think: list[str]) -> None:
        held = "".join(self._held)
        self._clear_held()
        unclosed = self.config.implicit_unclosed
        if unclosed == "think" or (unclosed == "auto" and reason == "length"):
            if held:
                self.blocks += 1
            self._emit_think(held, think)
            return
        self._state = State.ANSWER
        pos, marker = self._any_marker.search(held) if self._any_marker else (0, None)
        if marker is not None:
            # The model thought, then opened a tool call without closing the block.
            self.blocks += 1
            self._emit_think(held[:pos], think)
            self._end_think()
            held = held[pos:]
        self._run(held, answer, think, final=True)

    def _feed_implicit(self, text: str, think: list[str]) -> str | None:
        """Hold text until the first end tag; return text for the explicit machine, if any."""
        self._held.append(text)
        self._held_len += len(text)
        if not self._opener_checked:
            held = "".join(self._held)
            body = held.lstrip()
            pos, tag = self._starts.search(body) if body else (0, None)
            if pos == 0 and tag is not None:
                # The model opened the block itself: think text can flow progressively.
                self._clear_held()
                self._emit_think(held[: len(held) - len(body)], think)
                self._open_block(tag)
                return body[len(tag) :]
            if not body or pos == 0:
                # Only whitespace, or the beginning of a start tag, so far: still undecided.
                self._held = [held]
                return self._check_cap()
            self._opener_checked = True
            return self._search_implicit_end(held, 0, think)
        window = self._held_tail + text
        return self._search_implicit_end(window, self._held_len - len(window), think)

    def _search_implicit_end(self, window: str, offset: int, think: list[str]) -> str | None:
        pos, tag = self._any_end.search(window)
        if tag is not None:
            held = "".join(self._held)
            cut = offset + pos
            self._clear_held()
            self._emit_think(held[:cut], think)
            self.blocks += 1
            self._close_block()
            return held[cut + len(tag) :]
        keep = self._any_end.max_len - 1
        self._held_tail = window[-keep:] if keep else ""
        return self._check_cap()

    def _check_cap(self) -> str | None:
        if self._held_len <= self.max_held_chars:
            return None
        logger.warning(
            "implicit think start: no end tag within %d chars; releasing them as answer and "
            "continuing with explicit tags",
            self.max_held_chars,
        )
        held = "".join(self._held)
        self._clear_held()
        self._state = State.ANSWER
        return held
