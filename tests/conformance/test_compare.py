"""The comparison itself (no server): the oracle reads the README's rules, and classify() names
only the differences it should, so that an unknown one fails the differential tests."""

from __future__ import annotations

import pytest

from .cases import leaked_think_text
from .compare import EDGE_WHITESPACE
from .compare import IDENTICAL
from .compare import MARKER_ENDS_UNCLOSED
from .compare import TAGS_LEFT_IN_CONTENT
from .compare import UNKNOWN
from .compare import Split
from .compare import classify
from .compare import oracle


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<think>a b</think>\n\nX", Split("a b", "\n\nX")),
        ("<think>\n\n</think>\n\nX", Split(None, "\n\nX")),
        (
            "<think>a <tool_call> b </tool_call> c</think>X",
            Split("a <tool_call> b </tool_call> c", "X"),
        ),
        ("<think>a <tool_call>{}</tool_call>", Split("a ", "<tool_call>{}</tool_call>")),
        ("<think>a b", Split("a b", "")),
        ("X <think>a</think> Y", Split("a", "X  Y")),
        ("<think>one</think>A <think>two</think>B", Split("one\ntwo", "A B")),
    ],
)
def test_oracle(raw: str, expected: Split) -> None:
    assert oracle(raw) == expected


def test_classify_names_documented_differences() -> None:
    raw = "<think>a</think> X"
    assert classify(raw, Split("a", "X"), Split("a", "X")) == IDENTICAL
    assert classify(raw, Split("a", " X"), Split("a", "X")) == EDGE_WHITESPACE
    raw = "X<think>a</think>Y"
    assert classify(raw, Split(None, raw), Split("a", "XY")) == TAGS_LEFT_IN_CONTENT
    raw = "<think>a <tool_call>{}</tool_call>"
    assert classify(raw, Split(raw[7:], ""), Split("a ", "<tool_call>{}</tool_call>")) == (
        MARKER_ENDS_UNCLOSED
    )


@pytest.mark.parametrize(
    ("llama", "proxy"),
    [
        (Split(None, "X"), Split("\n\n", "X")),  # whitespace-only reasoning sent
        (Split("one", "A <think>two</think>B"), Split("onetwo", "A B")),  # words run together
        (
            Split("a <tool_call> b </tool_call> c", "X"),
            Split("a ", "<tool_call> b </tool_call> cX"),
        ),
        (Split("a", "X"), Split("a", "Y")),
    ],
)
def test_classify_fails_the_rest(llama: Split, proxy: Split) -> None:
    raw = "<think>" + (llama.reasoning or "") + "</think>" + llama.content
    assert classify(raw, llama, proxy) == UNKNOWN


def test_leak_check() -> None:
    assert leaked_think_text("A B <tool_call>{}</tool_call>") == []
    assert leaked_think_text("A B<thi") == []  # a start tag cut by max_tokens
    assert leaked_think_text("A b") == ["b"]
    assert leaked_think_text("A </think>") == ["<", "t", "h", "i", "n", "k", ">"]
