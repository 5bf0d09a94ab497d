"""Counting reasoning as it streams, and finding it inside a family's think tags.

Pure logic, no mitmproxy import. A token is one streamed reasoning delta, or one per 4
characters of a delta that holds more (servers stream about one token a delta; a delta that
holds more is counted by its length, as tokenizers make about 4 characters a token of English).
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def cost(text: str) -> int:
    """The tokens `text` counts for as one delta."""
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


class Meter:
    """Reasoning counted against a budget; `take` keeps what still fits."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.full = False  # the budget is spent: the next reasoning forces the end

    def take(self, text: str) -> str:
        """The part of `text` (one delta's reasoning) that fits; sets `full` when the budget is
        reached (a delta that fits exactly leaves it full)."""
        if not text:
            return ""
        left = self.budget - self.used
        if left <= 0:
            self.full = True
            return ""
        needed = cost(text)
        if needed <= left:
            self.used += needed
            self.full = self.used >= self.budget
            return text
        kept = text[: left * CHARS_PER_TOKEN]
        self.used = self.budget
        self.full = True
        return kept


class InlineTags:
    """Which parts of streamed text lie inside think tags (start, end), across deltas: a tag
    split over two deltas is found (the part in the earlier delta was taken as text already)."""

    def __init__(self, start: str, end: str, inside: bool = False) -> None:
        self.start = start
        self.end = end
        self.inside = inside
        self._tail = ""

    def split(self, text: str) -> list[tuple[str, str]]:
        """`text` cut into ("think" | "text" | "tag", piece), in order; the pieces join to `text`."""
        buf = self._tail + text
        offset = pos = len(self._tail)
        scan = 0
        pieces: list[tuple[str, str]] = []
        while True:
            tag = self.end if self.inside else self.start
            i = buf.find(tag, scan)
            if i < 0 or i + len(tag) <= offset:
                if i >= 0:  # wholly in the tail: seen before
                    scan = i + len(tag)
                    continue
                break
            kind = "think" if self.inside else "text"
            if i > pos:
                pieces.append((kind, buf[pos:i]))
            pieces.append(("tag", buf[max(pos, i) : i + len(tag)]))
            pos = scan = i + len(tag)
            self.inside = not self.inside
        if pos < len(buf):
            rest = buf[pos:]
            tag = self.end if self.inside else self.start
            # a tag's first characters at the end: markup until the next delta says otherwise
            cut = next((n for n in range(min(len(tag) - 1, len(buf) - scan), 0, -1)
                        if tag.startswith(buf[-n:])), 0)  # fmt: skip
            cut = min(cut, len(rest))
            if cut < len(rest):
                pieces.append(("think" if self.inside else "text", rest[: len(rest) - cut]))
            if cut:
                pieces.append(("tag", rest[len(rest) - cut :]))
        longest = max(len(self.start), len(self.end)) - 1
        self._tail = buf[max(scan, len(buf) - longest) :] if longest > 0 else ""
        return pieces
