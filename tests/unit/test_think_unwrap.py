"""Answer wrappers (`ThinkConfig.unwrap`): their tags leave the answer, their content stays, with
the text split anywhere, streamed and buffered."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.formats import FORMATS
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter
from cot_proxy.wholetext import remove_think_blocks
from tests.unit.test_stream import chat_stream
from tests.unit.test_stream import client_text
from tests.unit.test_stream import cmpl_stream
from tests.unit.test_stream import payloads_of
from tests.unit.test_stream import run
from tests.unit.test_stream import split_at as split_bytes
from tests.unit.test_think import tag_start

THINK = ("<think>", "</think>")
ANSWER = ("<answer>", "</answer>")
RESPONSE = ("<|START_RESPONSE|>", "<|END_RESPONSE|>")
MARKER = "<tool_call>"  # the default end marker of the <think> pair


def config(mode: str = "strip", implicit: bool = False) -> ThinkConfig:
    return ThinkConfig(mode=mode, implicit_start=implicit, unwrap=(ANSWER, RESPONSE))  # type: ignore[arg-type]


def feed_pieces(cfg: ThinkConfig, pieces: list[str], finish: object = None) -> tuple[str, str]:
    think_filter = ThinkFilter(cfg)
    answer, think = [], []
    for piece in pieces:
        a, t = think_filter.feed(piece)
        answer.append(a)
        think.append(t)
    a, t = think_filter.finish(finish)
    return "".join(answer) + a, "".join(think) + t


def split_at(text: str, points: list[int]) -> list[str]:
    bounds = [0, *sorted(p % (len(text) + 1) for p in points), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _alternation(tags: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in sorted(set(tags), key=len, reverse=True)))


def reference(text: str, mode: str) -> tuple[str, str]:
    """Regex reference, explicit tags: a block runs from <think> to </think> (or to the marker,
    kept, when no </think> follows); orphan end tags and wrapper tags are removed; whitespace
    after a block, an orphan or a wrapper's start tag is dropped when the answer so far is
    empty or ends in whitespace. After a removed tag or block, the end of the answer that may
    begin a tag goes back in front of the text after it: a tag the two form counts. Reasoning:
    each block without its edge whitespace, blocks apart by a blank line."""
    if mode == "keep":
        return text, ""
    wrap_starts = {ANSWER[0], RESPONSE[0]}
    wrappers = {*ANSWER, *RESPONSE}
    every = [*THINK, *wrappers]
    tags = _alternation(every)
    answer, i, trim = "", 0, False
    blocks: list[str] = []
    while True:
        match = tags.search(text, i)
        segment = text[i : match.start() if match else len(text)]
        if trim:
            segment = segment.lstrip()
            trim = not segment
        answer += segment
        if match is None:
            break
        i = match.end()
        tag = match.group()
        if tag in wrappers:
            if tag in wrap_starts:
                trim = not answer or answer[-1].isspace()
        else:
            trim = not answer or answer[-1].isspace()
        if tag == THINK[0]:
            end = text.find(THINK[1], i)
            if end < 0:
                marker = text.find(MARKER, i)
                if marker < 0:
                    blocks.append(text[i:])
                    break
                blocks.append(text[i:marker])
                i, trim = marker, False
            else:
                blocks.append(text[i:end])
                i = end + len(THINK[1])
        if tail := tag_start(answer, every):
            answer, text, i = answer[: -len(tail)], tail + text[i:], 0
    think = "\n\n".join(kept for block in blocks if (kept := block.strip()))
    return answer, think if mode == "reasoning" else ""


CASES = [
    ("<answer>Hello</answer>", "Hello", ""),
    ("<think>x</think>\n<answer>\nHello\n</answer>", "Hello\n", "x"),
    ("Say <answer> hi</answer>!", "Say hi!", ""),
    ("a<answer> b</answer>", "a b", ""),  # mid-word the space stays
    ("<think>a<answer>b</answer></think>C", "C", "a<answer>b</answer>"),  # think text as it is
    ("<|START_RESPONSE|>42<|END_RESPONSE|>", "42", ""),
    ("</answer><answer", "<answer", ""),  # an end tag alone goes; a cut-off tag is text
    ("<answer>x</think>y", "xy", ""),  # an orphan end tag inside a wrapper goes too
    ("<<answer>think>x</think>y", "y", "x"),  # "<" and "think>" join over the wrapper tag
    ("</ans</answer>wer>y", "y", ""),  # into a wrapper tag, which goes too
]


@pytest.mark.parametrize(("text", "answer", "think"), CASES)
def test_cases_whole_and_split_everywhere(text: str, answer: str, think: str) -> None:
    cfg = config("reasoning")
    assert reference(text, "reasoning") == (answer, think)
    assert remove_think_blocks(text, cfg) == (answer, think)
    for cut in range(len(text) + 1):
        assert feed_pieces(cfg, [text[:cut], text[cut:]]) == (answer, think), cut
    assert feed_pieces(cfg, list(text)) == (answer, think)


def test_keep_mode_leaves_wrappers() -> None:
    text = "<answer>Hello</answer>"
    assert remove_think_blocks(text, config("keep")) == (text, "")


def test_counted_and_released_in_the_same_feed() -> None:
    think_filter = ThinkFilter(config())
    assert think_filter.feed("<answer>Hel") == ("Hel", "")
    assert think_filter.feed("lo</ans") == ("lo", "")  # only the possible tag is held
    assert think_filter.feed("wer> more") == (" more", "")
    assert think_filter.unwrapped_tags == 2 and think_filter.think_chars == 0


def test_implicit_start_unwraps_after_the_block() -> None:
    cfg = config("reasoning", implicit=True)
    text = "thinking\n</think>\n<answer>\nHi\n</answer>"
    assert remove_think_blocks(text, cfg) == ("Hi\n", "thinking")
    # no end tag: the held text is the answer, unwrapped (or think text when cut off)
    assert remove_think_blocks("<answer>Hi</answer>", cfg, "stop") == ("Hi", "")
    assert remove_think_blocks("<answer>Hi", cfg, "length") == ("", "<answer>Hi")


VOCAB = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<|START_RESPONSE|>",
    "<|END_RESPONSE|>",
    "<tool_call>",
    "<",
    "</",
    "<ans",
    "wer>",
    "<|START_",
    "RESPONSE|>",
    "think>",
    "a",
    "bc",
    " ",
    "\n",
    "é",
    "🙂",
    "x y",
]

modes = st.sampled_from(["strip", "reasoning", "keep"])
texts = st.lists(st.sampled_from(VOCAB), max_size=40).map("".join)
points = st.lists(st.integers(min_value=0, max_value=400), max_size=15)


@settings(max_examples=300, deadline=None)
@given(texts, modes, points)
def test_random_split_equals_reference(text: str, mode: str, cuts: list[int]) -> None:
    cfg = config(mode)
    expected = reference(text, mode)
    assert remove_think_blocks(text, cfg) == expected
    assert feed_pieces(cfg, split_at(text, cuts)) == expected


@settings(max_examples=300, deadline=None)
@given(texts, modes, st.sampled_from([None, "stop", "length"]), points)
def test_implicit_random_split_equals_whole(
    text: str, mode: str, finish: str | None, cuts: list[int]
) -> None:
    cfg = config(mode, implicit=True)
    assert feed_pieces(cfg, split_at(text, cuts), finish) == remove_think_blocks(text, cfg, finish)


# -- through the stream: fast paths and the whitespace rule -------------------------------------


def make(endpoint: str) -> FilterStream:
    return FilterStream(config(), FORMATS[endpoint])


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
@pytest.mark.parametrize(
    ("pieces", "answer"),
    [
        (["Hello", "<answer> world</answer>"], "Hello world"),
        (["Hello ", "<answer> world</answer>"], "Hello world"),
        (["<think>x</think>\n", "<answer>\n", "Answer\n", "</answer>"], "Answer\n"),
        (["<|START_RES", "PONSE|>42<|END_RESPONSE|>"], "42"),
    ],
)
def test_stream_unwraps_across_events_and_chunks(
    endpoint: str, pieces: list[str], answer: str
) -> None:
    data = (chat_stream if endpoint == "chat" else cmpl_stream)(pieces)
    for cuts in ([], list(range(0, len(data), 7)), [len(data) // 2]):
        out = payloads_of(b"".join(run(make(endpoint), split_bytes(data, cuts))))
        assert client_text(out, endpoint) == answer, cuts


def test_stream_catches_json_escaped_wrapper_tags() -> None:
    data = chat_stream(["Hi", "<answer>!</answer>"], escape_lt=True)
    out = payloads_of(b"".join(run(make("chat"), [data])))
    assert client_text(out, "chat") == "Hi!"


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_stream_fast_path_knows_wrapper_tags_of_their_own(endpoint: str) -> None:
    """Wrapper tags that share no first character with the think tags still stop the fast
    paths, and the answer before them still decides the whitespace after a start tag."""
    cfg = ThinkConfig(tags=(("◁think▷", "◁/think▷"),), unwrap=(ANSWER,))
    data = (chat_stream if endpoint == "chat" else cmpl_stream)(
        ["Hello", "<answer> world</answer>", " and <answer> more</answer>"]
    )
    for cuts in ([], list(range(0, len(data), 5))):
        out = payloads_of(
            b"".join(run(FilterStream(cfg, FORMATS[endpoint]), split_bytes(data, cuts)))
        )
        assert client_text(out, endpoint) == "Hello world and more", cuts
