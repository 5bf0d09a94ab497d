"""Literal tag search for the think filter: the earliest of several tags in a text, or the
start of one cut off at the text's end (so that it can be held until the next piece shows).

Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable


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

    def search(self, text: str) -> tuple[int, str | None]:
        """Where the next tag starts in `text`.

        (pos, tag): a whole tag starts at pos. (pos, None): text[pos:] could still grow into a
        tag, so hold it back. (len(text), None): no tag, none possible.
        """
        best, found = -1, None
        for tag in self.tags:
            # Bounded to matches starting before the best so far; ties keep the longer tag.
            stop = len(text) if best < 0 else best + len(tag) - 1
            pos = text.find(tag, 0, stop)
            if pos >= 0:
                best, found = pos, tag
        hold = self.partial_start(text)
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
