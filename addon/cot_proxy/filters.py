"""The filters of one answer: one per channel, made, counted and (under mitmweb) recorded here.

A channel is one independent text stream of an answer (an OpenAI choice, an Anthropic text
block, a Responses message part, the one answer of an Ollama stream). Its filter is a
`cot_proxy.think.ThinkFilter`, or in inline mode a `cot_proxy.inline.InlineBlock`: two classes,
one interface (`ChannelFilter`). Formats get them from a `Filters`, which counts their think
text for the log and the metrics and, given a transcript (mitmweb) or a recall (the reasoning
memory, `history_restore`), passes each filter an observer that records its text (both: one
`Observers` telling each): the filters themselves know about neither.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from cot_proxy.inline import InlineBlock
from cot_proxy.think import ThinkFilter
from cot_proxy.think_config import DEFAULT_MAX_HELD_CHARS
from cot_proxy.think_config import ThinkConfig
from cot_proxy.transcript import Transcript


class FilterObserver(Protocol):
    """Told what a channel's filter decided, as it decides it (mitmweb's transcript,
    `cot_proxy.transcript`): the answer text, the think text (strip mode included, as
    reasoning mode would give it), and reasoning the upstream split off that the format drops."""

    def on_answer(self, text: str) -> None: ...

    def on_think(self, text: str) -> None: ...

    def on_dropped(self, text: str) -> None: ...


class ObserverSource(Protocol):
    """What hands out the observers of an answer's channels: mitmweb's transcript
    (`cot_proxy.transcript.Transcript`), the reasoning memory (`cot_proxy.memory.recall.Recall`)."""

    def observer(self, channel: int) -> FilterObserver: ...


class Observers:
    """Several observers of one channel as one: each is told everything, in order."""

    __slots__ = ("_each",)

    def __init__(self, each: tuple[FilterObserver, ...]) -> None:
        self._each = each

    def on_answer(self, text: str) -> None:
        for observer in self._each:
            observer.on_answer(text)

    def on_think(self, text: str) -> None:
        for observer in self._each:
            observer.on_think(text)

    def on_dropped(self, text: str) -> None:
        for observer in self._each:
            observer.on_dropped(text)


class ChannelFilter(Protocol):
    """What a stream or a format asks of one channel's filter, whatever the mode."""

    @property
    def idle(self) -> bool:
        """True when the next text cannot be affected by anything seen so far."""
        ...

    @property
    def think_chars(self) -> int: ...

    @property
    def blocks(self) -> int: ...

    def feed(self, text: str) -> tuple[str, str]:
        """Next piece of text → (answer_text, think_text) decided by it."""
        ...

    def finish(self, reason: object = None) -> tuple[str, str]:
        """End of text → (answer_text, think_text) still held."""
        ...

    def note_answer(self, text: str) -> None:
        """Answer text of this channel that reached the client without passing through `feed`."""
        ...

    def note_reasoning(self, text: str) -> None:
        """Reasoning the upstream split off that reaches the client in our reasoning field."""
        ...

    def note_dropped(self, text: str) -> None:
        """Reasoning the upstream split off that the format deletes (strip mode)."""
        ...


class Filters:
    """Makes the channel filters of one answer (streamed or buffered) and sums their counters.

    Calling it gives the filter of the config's mode; `think` and `inline` give one of a kind,
    for the formats that need that kind by type.
    """

    def __init__(
        self,
        config: ThinkConfig,
        transcript: Transcript | None = None,
        max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
        recall: ObserverSource | None = None,
    ) -> None:
        self.config = config
        self.transcript = transcript
        self.max_held_chars = max_held_chars
        # Who observes each channel's filter: mitmweb's transcript, the reasoning memory.
        self.sources: tuple[ObserverSource, ...] = tuple(
            s for s in (transcript, recall) if s is not None
        )
        self.made: list[ChannelFilter] = []

    def _observer(self, channel: int) -> FilterObserver | None:
        sources = self.sources
        if not sources:
            return None
        if len(sources) == 1:
            return sources[0].observer(channel)
        return Observers(tuple(source.observer(channel) for source in sources))

    def __call__(self, channel: int) -> ChannelFilter:
        observer = self._observer(channel)
        made: ChannelFilter
        if self.config.mode == "inline":
            made = InlineBlock(self.config, observer)
        else:
            made = ThinkFilter(self.config, self.max_held_chars, observer=observer)
        self.made.append(made)
        return made

    def think(self, channel: int) -> ThinkFilter:
        observer = self._observer(channel)
        made = ThinkFilter(self.config, self.max_held_chars, observer=observer)
        self.made.append(made)
        return made

    def inline(self, channel: int) -> InlineBlock:
        observer = self._observer(channel)
        made = InlineBlock(self.config, observer)
        self.made.append(made)
        return made

    @property
    def think_chars(self) -> int:
        total = 0
        for made in self.made:
            total += made.think_chars
        return total

    @property
    def blocks(self) -> int:
        return sum(f.blocks for f in self.made)


class Numbered:
    """Filters of `filters` numbered in the order they are made, from `numbers` (channels that
    have no number of their own: the items of a Responses output)."""

    def __init__(self, filters: Filters, numbers: Iterator[int]) -> None:
        self.filters = filters
        self.numbers = numbers

    def __call__(self) -> ChannelFilter:
        return self.filters(next(self.numbers))

    def think(self) -> ThinkFilter:
        return self.filters.think(next(self.numbers))

    def inline(self) -> InlineBlock:
        return self.filters.inline(next(self.numbers))
