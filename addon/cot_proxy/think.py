"""Think-block removal: a per-channel incremental state machine over answer text.

`ThinkFilter.feed()` takes the next piece of one channel's text and returns the (answer, think)
text it can decide now; `finish()` ends the text. Text is held back only while it could still be
the beginning of a tag (or, with `implicit_start`, until the first end tag shows whether the model
thought at all), so answer text normally leaves in the same feed that brought it.
`wholetext.remove_think_blocks()` is the whole-text equivalent (feed everything, then finish).
`ThinkConfig` and the modes are also importable from here. Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cot_proxy.tags import TagMatcher
from cot_proxy.tags import filter_tags
from cot_proxy.think_config import BLOCK_SEPARATOR
from cot_proxy.think_config import DEFAULT_MAX_HELD_CHARS as DEFAULT_MAX_HELD_CHARS
from cot_proxy.think_config import THINK_MODES as THINK_MODES
from cot_proxy.think_config import ThinkConfig as ThinkConfig
from cot_proxy.think_config import ThinkMode as ThinkMode
from cot_proxy.think_held import HeldText
from cot_proxy.think_held import State

if TYPE_CHECKING:
    from cot_proxy.filters import FilterObserver

logger = logging.getLogger(__name__)


class ThinkFilter(HeldText):
    """Separates think blocks from answer text for one choice, fed piece by piece.

    Modes: "strip" drops blocks (think text is counted, not returned); "reasoning" returns the
    block text without tags as think text; "keep" returns everything as answer.
    In strip and reasoning modes, when the answer so far is empty or ends in whitespace, the
    whitespace right after a removed block is dropped as well, until the first non-whitespace
    answer character, which may come in a later feed (nothing is held for it); mid-word the
    whitespace stays, so words never run together. A block still open at `finish()` is think
    text. An end tag with no block open (an orphan) is removed; the text around it is answer.
    An end marker (`config.markers_for`) inside a block closes it and stays in the answer, but
    only when the block's end tag does not follow (`HeldText`).
    The answer on both sides of a removed tag or block joins, and a tag the two form counts
    (`<<think>x</think>think>y` opens a block at the joined `<think>`): held meanwhile (`_tail`).
    Outside a block, the tags of `config.unwrap` are removed and their content stays answer;
    after a wrapper's start tag, whitespace is dropped as after a block (the end tag changes
    nothing about whitespace). Think tags win over a wrapper tag spelled the same.

    implicit_start: everything before the first end tag (of any pair) is think text, so all text
    is held until that tag (`HeldText`).

    Reasoning mode delivers each block's think text without the whitespace at its edges
    (trailing whitespace is held until more think text follows), so a block of whitespace
    only (Qwen3's thinking-off `<think>\n\n</think>`) gives no reasoning at all, as in
    llama.cpp; the reasoning of a later block of the same choice starts with BLOCK_SEPARATOR.

    With an `observer`, each feed and finish tells it the answer and think text decided (in
    strip mode the think text as reasoning mode would give it), and `note_dropped` the
    upstream's reasoning; the caller gets exactly what it gets without one.

    After `finish()` the filter is back in its initial state; counters accumulate.
    """

    def __init__(
        self,
        config: ThinkConfig,
        max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
        *,
        observer: FilterObserver | None = None,
    ) -> None:
        self.config = config
        self.max_held_chars = max_held_chars
        # An observer sees the think text strip mode drops: the filter makes it, the caller
        # does not get it (`_observed`).
        self._strip = config.mode == "strip" and observer is None
        self._drops_think = config.mode == "strip"
        self._observer = observer
        if observer is not None:
            # Bound here, so that a filter without an observer (mitmdump) pays nothing for it.
            self.feed = self._observed_feed  # type: ignore[method-assign]
            self.finish = self._observed_finish  # type: ignore[method-assign]
        # Inline mode leaves the text the model wrote as it is (`cot_proxy.inline`).
        self._keep = config.mode in ("keep", "inline")
        tags = filter_tags(config)
        self._start_tags = tags.start_tags
        self._starts = tags.starts
        self._wrap_starts = tags.wrap_starts
        self._wrappers = tags.wrappers
        self._answer_tags = tags.answer_tags
        self._markers = tags.markers
        self._any_end = tags.any_end
        self._any_marker = tags.any_marker
        self._end_of = tags.end_of
        self._close_of = tags.close_of
        self._end: TagMatcher = self._any_end
        self._close: TagMatcher = self._any_end  # the open block's end tag, without markers
        self._state = State.ANSWER
        self._pending = ""  # text that may be the beginning of a tag
        # Answer text right before a removed tag that may begin a tag with the text after it.
        self._tail = ""
        self._trim = False  # dropping whitespace after a removed block
        self._spaced = True  # the answer so far is empty or ends in whitespace
        # implicit_start bookkeeping
        self._held: list[str] = []
        self._held_len = 0
        self._held_tail = ""  # last chars of the held text, for end tags cut across feeds
        self._opener_checked = False
        # reasoning mode: whitespace at block edges
        self._think_ws = ""  # trailing whitespace of the block's think text, held
        self._block_fresh = True  # the open block has given no think text yet
        self._think_sent = False  # some block of this choice has given think text
        # counters for logging
        self.think_chars = 0  # think text removed (strip) or diverted (reasoning), tags excluded
        self.blocks = 0  # think blocks opened, the implicit one included
        self.trimmed_chars = 0  # whitespace dropped after blocks
        self.orphan_tags = 0  # end tags removed with no block open
        self.unwrapped_tags = 0  # answer wrapper tags removed
        self._reset()

    def _reset(self) -> None:
        self._state = (
            State.IMPLICIT if self.config.implicit_start and not self._keep else State.ANSWER
        )
        self._pending = ""
        self._tail = ""
        self._trim = False
        self._spaced = True
        self._clear_held()
        self._opener_checked = False
        self._think_ws = ""
        self._block_fresh = True
        self._think_sent = False

    @property
    def idle(self) -> bool:
        """True when the next text cannot be affected by anything seen so far."""
        return (
            self._state is State.ANSWER and not self._pending and not self._trim and not self._tail
        ) or self._keep

    @property
    def held_chars(self) -> int:
        return len(self._pending) + len(self._tail) + self._held_len

    def feed(self, text: str) -> tuple[str, str]:
        """Next piece of text → (answer_text, think_text) decided by it."""
        if self._keep or not text:
            return text, ""
        if not self._pending:
            # Shortcuts for the common pieces that cannot contain (part of) a tag.
            if self._state is State.INSIDE and self._end.absent_from(text):
                if self._strip:
                    self.think_chars += len(text)
                    return "", ""
                edges: list[str] = []
                self._emit_think(text, edges)
                return "", "".join(edges)
            if (
                self._state is State.ANSWER
                and not self._trim
                and not self._tail
                and self._answer_tags.absent_from(text)
            ):
                self._spaced = text[-1].isspace()
                return text, ""
        answer: list[str] = []
        think: list[str] = []
        rest: str | None = text
        if self._state is State.IMPLICIT:
            rest = self._feed_implicit(text, think)
        elif self._state is State.MARKED:
            rest = self._feed_marked(text, think)
        if rest:
            self._run(rest, answer, think)
        return "".join(answer), "".join(think)

    def note_answer(self, text: str) -> None:
        """Answer text of this choice that reached the client without passing through `feed`."""
        if text and self._state is State.ANSWER and not self._pending and not self._tail:
            self._spaced = text[-1].isspace()

    def note_reasoning(self, text: str) -> None:
        """Reasoning of this channel that the upstream split off itself and that reaches the
        client in the same field as ours (reasoning mode): a block after it is set apart."""
        if text and not text.isspace():
            self._think_sent = True

    def note_dropped(self, text: str) -> None:
        """Reasoning of this channel that the upstream split off itself and the format deletes
        (strip mode): not counted in `think_chars` (the upstream's reasoning fields never are);
        the observer, if any, is told (mitmweb's transcript keeps it)."""
        if self._observer is not None:
            self._observer.on_dropped(text)

    def _observed_feed(self, text: str) -> tuple[str, str]:
        return self._observed(*ThinkFilter.feed(self, text))

    def _observed_finish(self, reason: object = None) -> tuple[str, str]:
        return self._observed(*ThinkFilter.finish(self, reason))

    def _observed(self, answer: str, think: str) -> tuple[str, str]:
        observer = self._observer
        assert observer is not None
        if answer:
            observer.on_answer(answer)
        if think:
            observer.on_think(think)
        return answer, "" if self._drops_think else think

    def finish(self, reason: object = None) -> tuple[str, str]:
        """End of text → (answer_text, think_text) still held. Resets the filter.

        `reason`: the choice's finish_reason, if known."""
        if self._keep:
            return "", ""
        answer: list[str] = []
        think: list[str] = []
        if self._state is State.IMPLICIT:
            self._finish_implicit(reason, answer, think)
        elif (self._pending or self._tail) and self._state is State.ANSWER:
            # Held as the start of a longer tag, it can grow no more: a whole tag at its start
            # is that tag (gemma4's `<|channel>`, held as the start of `<|channel>thought\n`,
            # opens a block; before, it went out as answer text).
            held, self._pending = self._pending, ""
            self._run(held, answer, think, final=True)
        while self._state is State.MARKED:
            # No end tag after the marker: it ended the block, and it and what followed are answer
            # (which may open another block and hold after its marker again).
            held = "".join(self._held)
            self._clear_held()
            self._end_think()
            self._state = State.ANSWER
            self._run(held, answer, think, final=True)
        if self._state is State.ANSWER:
            self._emit_answer(self._pending, answer)
        else:
            self._emit_think(self._pending, think)
            self._emit_answer(self._tail, answer)  # before a block left open: answer text
        self._reset()
        return "".join(answer), "".join(think)

    # -- explicit tags ------------------------------------------------------------------------

    def _run(self, text: str, answer: list[str], think: list[str], final: bool = False) -> None:
        """Text through the explicit machine. `final`: the text ends with it (`finish`)."""
        if self._pending:
            text = self._pending + text
            self._pending = ""
        while text or self._tail:
            if self._state is State.ANSWER:
                if self._tail:  # the answer before a removed tag joins the text after it
                    text = self._tail + text
                    self._tail = ""
                pos, tag = self._answer_tags.search(text, final)
                if tag is None:
                    if pos < len(text):  # held, as it may begin a tag: so is a tail before it
                        pos = self._answer_tags.partial_start(text[:pos])
                    self._emit_answer(text[:pos], answer)
                    self._pending = text[pos:]
                    return
                joinable = self._answer_tags.partial_start(text[:pos])
                self._emit_answer(text[:joinable], answer)
                self._tail = text[joinable:pos]
                if tag in self._start_tags:
                    self._open_block(tag)
                elif tag in self._wrappers:
                    self.unwrapped_tags += 1
                    if tag in self._wrap_starts:
                        self._trim = self._ends_spaced()
                else:  # an end tag with no block open: never answer text
                    self.orphan_tags += 1
                    self._trim = self._ends_spaced()
            else:
                if not text:
                    return  # the tail waits for the block's end
                pos, tag = self._end.search(text, final)
                self._emit_think(text[:pos], think)
                if tag is None:
                    self._pending = text[pos:]
                    return
                if tag in self._markers:
                    # Maybe the end of the block and the start of the answer (a tool call, say):
                    # the block's end tag still to come would make it a mention in the reasoning.
                    self._state = State.MARKED
                    rest = self._feed_marked(text[pos:], think)
                    if rest is None:
                        return
                    text = rest
                    continue
                self._close_block()
            text = text[pos + len(tag) :]

    def _open_block(self, start_tag: str) -> None:
        self._state = State.INSIDE
        self._end = self._end_of[start_tag]
        self._close = self._close_of[start_tag]
        self.blocks += 1

    def _close_block(self) -> None:
        self._end_think()
        self._state = State.ANSWER
        # Mid-sentence ("a<think>x</think> b") the space after the block separates words.
        self._trim = self._ends_spaced()

    def _ends_spaced(self) -> bool:
        """Whether the answer so far, the held tail included, is empty or ends in whitespace."""
        return self._tail[-1].isspace() if self._tail else self._spaced

    def _end_think(self) -> None:
        """The open block ends: its trailing whitespace is dropped, the next one starts fresh."""
        self._think_ws = ""
        self._block_fresh = True

    def _emit_answer(self, text: str, answer: list[str]) -> None:
        if not text:
            return
        if self._trim:
            kept = text.lstrip()
            self.trimmed_chars += len(text) - len(kept)
            if not kept:
                return
            self._trim = False
            text = kept
        self._spaced = text[-1].isspace()
        answer.append(text)

    def _emit_think(self, text: str, think: list[str]) -> None:
        if not text:
            return
        self.think_chars += len(text)
        if self._strip:
            return
        if self._block_fresh:
            text = text.lstrip()
            if not text:
                return
            self._block_fresh = False
            if self._think_sent:
                text = BLOCK_SEPARATOR + text
            self._think_sent = True
        else:
            text = self._think_ws + text
        body = text.rstrip()
        self._think_ws = text[len(body) :]
        if body:
            think.append(body)
