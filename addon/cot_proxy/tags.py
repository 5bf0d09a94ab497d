"""Literal tag search for the think filter: the earliest of several tags in a text, or the
start of one cut off at the text's end (so that it can be held until the next piece shows).

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from collections.abc import Mapping

from cot_proxy.think_config import ThinkConfig


class TagMatcher:
    """Finds the earliest of several literal tags in a text, including one cut off at its end."""

    __slots__ = ("tags", "max_len", "first_chars", "_prefixes")

    def __init__(self, tags: Iterable[str]) -> None:
        # Longest first, so that of two tags matching at one position the longer one wins.
        unique = sorted(set(tags), key=len, reverse=True)
        if not unique or not all(unique):
            raise ValueError("think tags must be non-empty strings")
        self.tags: tuple[str, ...] = tuple(unique)
        self.max_len = len(unique[0])
        self.first_chars: frozenset[str] = frozenset(tag[0] for tag in unique)
        self._prefixes = frozenset(tag[:i] for tag in unique for i in range(1, len(tag)))

    def absent_from(self, text: str) -> bool:
        """True when no tag can even begin in `text` (a cheap pre-check)."""
        for char in self.first_chars:
            if char in text:
                return False
        return True

    def search(self, text: str, final: bool = False) -> tuple[int, str | None]:
        """Where the next tag starts in `text`.

        (pos, tag): a whole tag starts at pos. (pos, None): text[pos:] could still grow into a
        tag, so hold it back. (len(text), None): no tag, none possible. `final`: the text ends
        here, nothing can grow, nothing is held.
        """
        best, found = -1, None
        for tag in self.tags:
            # Bounded to matches starting before the best so far; ties keep the longer tag.
            stop = len(text) if best < 0 else best + len(tag) - 1
            pos = text.find(tag, 0, stop)
            if pos >= 0:
                best, found = pos, tag
        hold = len(text) if final else self.partial_start(text)
        if hold < len(text) and (best < 0 or hold <= best):
            return hold, None
        if best >= 0:
            return best, found
        return len(text), None

    def partial_start(self, text: str) -> int:
        """Smallest q such that text[q:] is a proper prefix of a tag, else len(text)."""
        length = len(text)
        lowest = max(0, length - self.max_len + 1)
        best = length
        for char in self.first_chars:
            pos = text.find(char, lowest, best)
            while pos >= 0:
                if text[pos:] in self._prefixes:
                    best = pos
                    break
                pos = text.find(char, pos + 1, best)
        return best


@functools.lru_cache(maxsize=128)
def matcher_for(tags: tuple[str, ...]) -> TagMatcher:
    """The matcher of `tags`, shared: matchers are immutable, and every filter of a config
    (one per channel per flow) uses the same."""
    return TagMatcher(tags)


@dataclasses.dataclass(frozen=True)
class FilterTags:
    """What a think filter (`cot_proxy.think.ThinkFilter`) looks for under one config: made
    once per config, not for every filter (one per channel per flow; 9 µs each)."""

    start_tags: frozenset[str]
    starts: TagMatcher
    wrap_starts: frozenset[str]
    # Wrapper tags that are no think tag: outside a block they go, what they hold stays.
    wrappers: frozenset[str]
    # Outside a block: start tags open one, end tags are orphans (removed), wrapper tags go.
    answer_tags: TagMatcher
    markers: frozenset[str]
    # Implicit start: the first end tag of any pair ends the implicit block (an end marker
    # only at the finish, when no end tag came).
    any_end: TagMatcher
    any_marker: TagMatcher | None
    # By start tag: its end tag and markers, and its end tag alone. A start tag listed twice
    # closes with its first end tag.
    end_of: Mapping[str, TagMatcher]
    close_of: Mapping[str, TagMatcher]


@functools.lru_cache(maxsize=64)
def filter_tags(config: ThinkConfig) -> FilterTags:
    starts = tuple(start for start, _ in config.tags)
    ends = tuple(end for _, end in config.tags)
    wrappers = tuple(tag for pair in config.unwrap for tag in pair)
    markers = frozenset(m for start in starts for m in config.markers_for(start))
    end_of: dict[str, TagMatcher] = {}
    close_of: dict[str, TagMatcher] = {}
    for start, end in reversed(config.tags):
        end_of[start] = matcher_for((end, *config.markers_for(start)))
        close_of[start] = matcher_for((end,))
    return FilterTags(
        start_tags=frozenset(starts),
        starts=matcher_for(starts),
        wrap_starts=frozenset(start for start, _ in config.unwrap),
        wrappers=frozenset(wrappers) - frozenset(starts) - frozenset(ends),
        answer_tags=matcher_for(starts + ends + wrappers),
        markers=markers,
        any_end=matcher_for(ends),
        any_marker=matcher_for(tuple(markers)) if markers else None,
        end_of=end_of,
        close_of=close_of,
    )
