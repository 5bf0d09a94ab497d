"""The differential comparison: the proxy's split of a generation against llama.cpp's own.

Both split the same raw text (the server's answer with `--reasoning-format none`) into reasoning and
answer. Where they differ, the difference must fall in one of the named categories below, each a
rule the README documents (or a place where llama.cpp's parser keeps tags the proxy removes);
anything else is an "unknown" difference, and the tests fail on it with the example.

Every category that says "the proxy is right" also checks the proxy against `oracle()`, an
independent reading of the README's rules on words (whitespace is compared as word boundaries).
"""

from __future__ import annotations

import collections
import dataclasses

START, END, MARKER = "<think>", "</think>", "<tool_call>"

IDENTICAL = "identical"
EDGE_WHITESPACE = "whitespace at block edges"
TAGS_LEFT_IN_CONTENT = "llama.cpp leaves later blocks' tags in the content"
MARKER_ENDS_UNCLOSED = "<tool_call> ends a block that never closes (README: end markers)"
UNKNOWN = "UNKNOWN"


@dataclasses.dataclass(frozen=True)
class Split:
    """A generation as reasoning (None: the client got no reasoning at all) and answer."""

    reasoning: str | None
    content: str


def oracle(raw: str) -> Split:
    """The README's rules, independently: blocks from `<think>` to the next `</think>`; in a block
    with no end tag, `<tool_call>` ends the block and stays answer; an unclosed block with no marker
    is reasoning to the end. Block texts are joined with a newline (words kept apart)."""
    thoughts: list[str] = []
    answer = ""
    rest = raw
    while START in rest:
        before, _, rest = rest.partition(START)
        answer += before
        if END in rest:
            thought, _, rest = rest.partition(END)
        elif MARKER in rest:
            thought, marker, rest = rest.partition(MARKER)
            rest = marker + rest
        else:
            thought, rest = rest, ""
        thoughts.append(thought)
    answer += rest.replace(END, "")
    reasoning = "\n".join(t for t in thoughts if t.strip())
    return Split(reasoning or None, answer)


def words(text: str | None) -> list[str]:
    return (text or "").split()


def same_words(a: Split, b: Split) -> bool:
    return words(a.reasoning) == words(b.reasoning) and words(a.content) == words(b.content)


def agree(*splits: Split) -> bool:
    """The same answer text exactly, and the same reasoning up to how it is cut into items or
    blocks (Responses and Messages may group a stream's reasoning differently from the buffered
    answer's: one item or block per run of think text, or one per message)."""
    first = splits[0]
    return all(
        s.content == first.content
        and (s.reasoning is None) == (first.reasoning is None)
        and words(s.reasoning) == words(first.reasoning)
        for s in splits[1:]
    )


def classify(raw: str, llama: Split, proxy: Split) -> str:
    """The category of the difference between llama.cpp's split and the proxy's of `raw`."""
    if llama == proxy:
        return IDENTICAL
    if (START in llama.content or END in llama.content) and same_words(proxy, oracle(raw)):
        return TAGS_LEFT_IN_CONTENT
    after_start = raw.partition(START)[2]
    if (
        END not in after_start
        and MARKER in after_start
        and llama.content.strip() == ""
        and same_words(proxy, oracle(raw))
    ):
        return MARKER_ENDS_UNCLOSED
    if (llama.reasoning is None) != (proxy.reasoning is None):
        return UNKNOWN  # one side sends reasoning, the other none: never a whitespace matter
    if same_words(llama, proxy) and _strip(llama) == _strip(proxy):
        return EDGE_WHITESPACE
    return UNKNOWN


def _strip(split: Split) -> Split:
    return Split((split.reasoning or "").strip(), split.content.lstrip())


class Tally:
    """Counts per category, per test; the first examples of unknown differences."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.unknown: list[str] = []

    def add(self, label: str, raw: str, llama: Split, proxy: Split) -> None:
        category = classify(raw, llama, proxy)
        self.counts[category] += 1
        if category == UNKNOWN and len(self.unknown) < 5:
            self.unknown.append(f"{label}: raw={raw!r}\n  llama={llama}\n  proxy={proxy}")

    def report(self) -> str:
        lines = [f"{n:5d}  {category}" for category, n in sorted(self.counts.items())]
        return "\n".join(lines + self.unknown)
