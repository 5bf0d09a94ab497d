"""ThinkFilter / remove_think_blocks: tags, hold-back, whitespace trimming, implicit start."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.tags import TagMatcher
from cot_proxy.tags import filter_tags
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter
from cot_proxy.think_config import DEFAULT_END_MARKERS
from cot_proxy.wholetext import remove_think_blocks

THINK = ("<think>", "</think>")
THOUGHT = ("<|begin_of_thought|>", "<|end_of_thought|>")
# Gemma 4's pairs: one start tag begins the other.
GEMMA = (("<|channel>thought\n", "<channel|>"), ("<|channel>", "<channel|>"))
BRACKETS = ("[[", "]]")


def config(
    mode: str = "strip", tags: tuple[tuple[str, str], ...] = (THINK,), implicit: bool = False
) -> ThinkConfig:
    return ThinkConfig(mode=mode, tags=tags, implicit_start=implicit)  # type: ignore[arg-type]


def feed_pieces(
    cfg: ThinkConfig, pieces: list[str], max_held_chars: int = 1_000_000
) -> tuple[str, str]:
    think_filter = ThinkFilter(cfg, max_held_chars)
    answer, think = [], []
    for piece in pieces:
        a, t = think_filter.feed(piece)
        answer.append(a)
        think.append(t)
    a, t = think_filter.finish()
    return "".join(answer) + a, "".join(think) + t


def split_at(text: str, points: list[int]) -> list[str]:
    bounds = [0, *sorted(points), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


# (mode, tags, implicit, text, answer, think)
CASES = [
    ("strip", (THINK,), False, "<think>abc</think>Hello", "Hello", ""),
    ("reasoning", (THINK,), False, "<think>abc</think>Hello", "Hello", "abc"),
    ("keep", (THINK,), False, "<think>abc</think>Hello", "<think>abc</think>Hello", ""),
    ("strip", (THINK,), False, "Hi <think>x</think>there", "Hi there", ""),
    # reasoning mode: blocks joined by a blank line, each without the whitespace at its edges
    ("reasoning", (THINK,), False, "A<think>1</think>B<think>2</think>C", "ABC", "1\n\n2"),
    ("reasoning", (THINK,), False, "<think>\n\n</think>\n\nHi", "Hi", ""),  # Qwen3 off
    ("reasoning", (THINK,), False, "<think>\n a\n b \n</think>x", "x", "a\n b"),
    ("reasoning", (THINK,), False, "<think> </think>A<think>r</think>", "A", "r"),
    ("strip", (THINK,), False, "<think>a</think>\n\n  Hello\n", "Hello\n", ""),
    ("strip", (THINK,), False, "A <think>x</think>\n B", "A B", ""),
    ("strip", (THINK,), False, "  <think>x</think>B", "  B", ""),  # whitespace before stays
    ("strip", (THINK,), False, "<think>a</think> \n<think>b</think>\tZ", "Z", ""),
    ("strip", (THINK,), False, "<think>a</think>   ", "", ""),
    ("strip", (THINK,), False, "Hi <think>abc", "Hi ", ""),  # open block at finish: dropped
    ("reasoning", (THINK,), False, "Hi <think>abc</thi", "Hi ", "abc</thi"),
    ("keep", (THINK,), False, "Hi <think>abc", "Hi <think>abc", ""),
    ("strip", (THINK,), False, "Hello <thi", "Hello <thi", ""),  # cut-off tag is answer at end
    ("strip", (THINK,), False, "a</think>b", "ab", ""),  # orphan end tag: removed
    ("reasoning", (THINK,), False, "a</think>b", "ab", ""),
    ("reasoning", (THINK,), False, "a</think> b", "a b", ""),  # mid-word: the space stays
    ("strip", (THINK,), False, "</think>\n\nb", "b", ""),  # nothing before: trimmed
    ("strip", (THINK,), False, "<think>a</think>b</think>c", "bc", ""),  # a second end tag
    # words never run together: whitespace after a block only goes when the answer is empty
    # or already ends in whitespace
    ("strip", (THINK,), False, "normal between<think>x</think> final", "normal between final", ""),
    ("strip", (THINK,), False, "Hello <think>x</think> world", "Hello world", ""),
    ("strip", (THINK,), False, "a<think>x</think> b", "a b", ""),
    ("reasoning", (THINK,), False, "a<think>x</think>\n\nb", "a\n\nb", "x"),
    # end markers: the default <think> pair ends at <tool_call>, which stays in the answer,
    # unless the block's end tag follows (then the marker was a mention in the reasoning)
    (
        "strip",
        (THINK,),
        False,
        "<think>a<tool_call>{}</tool_call>",
        "<tool_call>{}</tool_call>",
        "",
    ),
    ("reasoning", (THINK,), False, "<think>a <tool_call>x", "<tool_call>x", "a"),
    (
        "reasoning",
        (THINK,),
        False,
        "<think>plan <tool_call> x </tool_call> more</think>answer",
        "answer",
        "plan <tool_call> x </tool_call> more",
    ),
    ("strip", (THINK,), False, "<think>p<tool_call>q</think>\nA", "A", ""),
    ("reasoning", (THINK,), True, "p <tool_call>x</think> A", "A", "p <tool_call>x"),
    ("strip", (THINK,), False, "x<tool_call>y", "x<tool_call>y", ""),  # outside a block: text
    ("reasoning", (THINK,), True, "plan<tool_call>{}", "<tool_call>{}", "plan"),
    ("reasoning", (BRACKETS,), False, "[[a<tool_call>]]b", "b", "a<tool_call>"),  # not its pair
    (
        "strip",
        (THINK,),
        False,
        "<thinking-mode>on</thinking-mode>",
        "<thinking-mode>on</thinking-mode>",
        "",
    ),
    ("strip", (THINK,), False, "<THINK>x</THINK>", "<THINK>x</THINK>", ""),  # case-sensitive
    ("strip", (THINK,), False, "<think><think>a</think>b</think>c", "bc", ""),  # no nesting
    ("strip", (THINK,), False, "<<think>x</think>", "<", ""),
    # The answer on both sides of what is removed joins, and a tag the two form counts: never
    # a tag in the answer made by removing one.
    ("strip", (THINK,), False, "<</think>think>y", "", ""),
    ("reasoning", (THINK,), False, "<</think>think>y", "", "y"),
    ("reasoning", (THINK,), False, "<<think>x</think>think>y</think> z", "z", "x\n\ny"),
    ("strip", (THINK,), False, "a</th<think>x</think>ink>b", "ab", ""),
    ("strip", (THINK,), False, "a <<think>x</think> b", "a < b", ""),
    ("reasoning", (THINK,), False, "<<think>x</think>/<think>y</think>think>z", "z", "x\n\ny"),
    (
        "reasoning",
        (("<reason>", "</reason>"),),
        False,
        "<reason>r</reason>A<think>t</think>",
        "A<think>t</think>",
        "r",
    ),
    (
        "reasoning",
        (THINK, THOUGHT),
        False,
        "<|begin_of_thought|>a</think>b<|end_of_thought|>X<think>c<|end_of_thought|>d</think>Y",
        "XY",
        "a</think>b\n\nc<|end_of_thought|>d",
    ),
    ("strip", (THINK, BRACKETS), False, "[[x]]a[[y</think>]]b<think>]]</think>c", "abc", ""),
    ("strip", (THINK, BRACKETS), False, "a]]b</think>c", "abc", ""),  # orphans of both pairs
    ("reasoning", (THINK,), False, "日本<think>🙂é</think> 語", "日本 語", "🙂é"),
    # implicit start: the template opened the block
    ("reasoning", (THINK,), True, "abc</think>\n\nHello", "Hello", "abc"),
    ("strip", (THINK,), True, "abc</think>\n\nHello<think>x</think> y", "Hello y", ""),
    ("reasoning", (THINK,), True, "  <think>abc</think>Hi", "Hi", "abc"),
    ("reasoning", (THINK,), True, "<think>a</think>b</think>c", "bc", "a"),
    ("reasoning", (THINK,), True, "just an answer", "just an answer", ""),
    ("reasoning", (THINK,), True, "", "", ""),
    ("reasoning", (THINK,), True, "  \n", "  \n", ""),
    ("reasoning", (THINK,), True, "<thi", "<thi", ""),
    # no end tag ever: as if implicit_start were off, explicit pairs inside still count
    ("strip", (THINK,), True, "answer <think>x", "answer ", ""),
    ("reasoning", (THINK, THOUGHT), True, "a<|end_of_thought|>\nb", "b", "a"),
    ("keep", (THINK,), True, "a</think>b", "a</think>b", ""),
    ("strip", (THINK,), True, "</thinking>a</think>b", "b", ""),
    # the text ends in a whole tag that could still have grown into a longer one: it is that tag
    ("strip", GEMMA, False, "Answer.<|channel>", "Answer.", ""),
    ("reasoning", GEMMA, False, "Answer.<|channel>thought", "Answer.", "thought"),
    ("reasoning", GEMMA, False, "<|channel>thought\nA<channel|>B", "B", "A"),
    ("strip", (("<t>", "</t>"), ("<t>x", "</tx>")), False, "a <t>", "a ", ""),
    ("strip", GEMMA, True, "a<channel|>b <|channel>", "b ", ""),
]


@pytest.mark.parametrize(("mode", "tags", "implicit", "text", "answer", "think"), CASES)
def test_cases_whole_and_split_everywhere(
    mode: str, tags: tuple[tuple[str, str], ...], implicit: bool, text: str, answer: str, think: str
) -> None:
    cfg = config(mode, tags, implicit)
    assert remove_think_blocks(text, cfg) == (answer, think)
    for point in range(len(text) + 1):
        assert feed_pieces(cfg, split_at(text, [point])) == (answer, think), point
    assert feed_pieces(cfg, list(text)) == (answer, think)


def test_answer_released_in_the_same_feed() -> None:
    think_filter = ThinkFilter(config("reasoning"))
    assert think_filter.feed("Hello ") == ("Hello ", "")
    assert think_filter.feed("wor <") == ("wor ", "")  # only the possible tag start is held
    assert think_filter.held_chars == 1
    assert think_filter.feed("think>abc") == ("", "abc")  # think text flows progressively
    assert think_filter.feed("de</thi") == ("", "de")
    assert think_filter.feed("nk>  ") == ("", "")  # the answer ends in a space: dropped
    assert not think_filter.idle
    assert think_filter.feed(" \n") == ("", "")  # still dropping, nothing held
    assert think_filter.held_chars == 0
    assert think_filter.feed("x y") == ("x y", "")
    assert think_filter.idle
    assert think_filter.finish() == ("", "")
    assert think_filter.think_chars == 5
    assert think_filter.blocks == 1
    assert think_filter.trimmed_chars == 4


def test_holdback_is_at_most_longest_tag_minus_one() -> None:
    think_filter = ThinkFilter(config("strip", (THINK, THOUGHT)))
    answer, _ = think_filter.feed("x<|begin_of_though")
    assert answer == "x"
    assert think_filter.held_chars == len("<|begin_of_though")
    answer, _ = think_filter.feed("!")
    assert answer == "<|begin_of_though!"
    assert think_filter.held_chars == 0


def test_tie_prefers_longer_tag_and_waits_for_it() -> None:
    cfg = config("reasoning", (("<t>", "</t>"), ("<t>x", "</tx>")))
    assert remove_think_blocks("<t>xa</tx>b", cfg) == ("b", "a")
    assert remove_think_blocks("<t>ya</t>b", cfg) == ("b", "ya")
    assert feed_pieces(cfg, ["<t>", "xa</t>", "</tx>b"]) == ("b", "a</t>")


def test_implicit_holds_until_end_tag() -> None:
    think_filter = ThinkFilter(config("reasoning", implicit=True))
    assert think_filter.feed("Let me think") == ("", "")
    assert not think_filter.idle
    assert think_filter.feed(" about it</th") == ("", "")
    assert think_filter.feed("ink>\n\nThe answer") == ("The answer", "Let me think about it")
    assert think_filter.feed(" <think>more</think>!") == (" !", "\n\nmore")


def test_implicit_without_end_tag_releases_answer_at_finish() -> None:
    think_filter = ThinkFilter(config("strip", implicit=True))
    assert think_filter.feed("plain ") == ("", "")
    assert think_filter.feed("answer") == ("", "")
    assert think_filter.finish() == ("plain answer", "")
    assert think_filter.think_chars == 0


def test_implicit_cap_releases_held_text_and_goes_explicit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    think_filter = ThinkFilter(config("strip", implicit=True), max_held_chars=10)
    assert think_filter.feed("0123456") == ("", "")
    with caplog.at_level(logging.WARNING, logger="cot_proxy.think"):
        assert think_filter.feed("789ab") == ("0123456789ab", "")
    assert "no end tag" in caplog.text
    assert "0123" not in caplog.text  # no content in logs
    # explicit from now on: a stray end tag is an orphan (removed), start tags open blocks
    assert think_filter.feed("</think>c<think>x</think>d") == ("cd", "")
    assert think_filter.finish() == ("", "")


def test_implicit_cap_while_undecided_whitespace() -> None:
    think_filter = ThinkFilter(config("strip", implicit=True), max_held_chars=4)
    assert think_filter.feed("   ") == ("", "")
    assert think_filter.feed("  x") == ("     x", "")


def test_filter_resets_after_finish() -> None:
    think_filter = ThinkFilter(config("strip", implicit=True))
    assert think_filter.feed("a</think>b") == ("b", "")
    assert think_filter.finish() == ("", "")
    assert think_filter.feed("c</think>d") == ("d", "")  # implicit again for a new text
    assert think_filter.think_chars == 2


def test_keep_mode_is_identity_and_always_idle() -> None:
    think_filter = ThinkFilter(config("keep", implicit=True))
    assert think_filter.feed("<think>") == ("<think>", "")
    assert think_filter.idle
    assert think_filter.finish() == ("", "")


def test_tag_matcher_rejects_empty_tags() -> None:
    with pytest.raises(ValueError):
        TagMatcher(["<think>", ""])
    with pytest.raises(ValueError):
        TagMatcher([])


def test_tag_matcher_search() -> None:
    matcher = TagMatcher(["<think>"])
    assert matcher.search("ab<think>c") == (2, "<think>")
    assert matcher.search("ab<thi") == (2, None)
    assert matcher.search("ab<x") == (4, None)
    assert matcher.search("a<b<th") == (3, None)
    assert matcher.search("") == (0, None)


# -- property tests against an independent reference --------------------------------------------


def _alternation(tags: Iterable[str]) -> re.Pattern[str]:
    # Longest first: of two tags at one position the longer one wins.
    return re.compile("|".join(re.escape(t) for t in sorted(set(tags), key=len, reverse=True)))


def tag_start(answer: str, tags: Iterable[str]) -> str:
    """The longest end of `answer` that is the beginning (not the whole) of a tag."""
    for size in range(len(answer), 0, -1):
        end = answer[-size:]
        if any(len(tag) > size and tag.startswith(end) for tag in tags):
            return end
    return ""


def _explicit(text: str, pairs: tuple[tuple[str, str], ...]) -> tuple[str, list[str]]:
    """Leftmost start tag to its own end tag, orphan ends removed → (answer, block texts).
    An end marker ends a block (and stays in the answer) only when that block's end tag does
    not follow anywhere later. After a removed tag or block, the end of the answer that may
    begin a tag goes back in front of the text after it: a tag the two form counts."""
    closers = {start: (end, DEFAULT_END_MARKERS.get(start, ())) for start, end in reversed(pairs)}
    every = [*closers, *(end for _, end in pairs)]
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
            return answer, blocks
        i = match.end()
        trim = not answer or answer[-1].isspace()
        if match.group() in closers:
            end, markers = closers[match.group()]
            close = text.find(end, i)
            if close < 0:
                marker = _alternation(markers).search(text, i) if markers else None
                if marker is None:
                    return answer, [*blocks, text[i:]]
                blocks.append(text[i : marker.start()])
                i, trim = marker.start(), False
            else:
                blocks.append(text[i:close])
                i = close + len(end)
        if tail := tag_start(answer, every):
            answer, text, i = answer[: -len(tail)], tail + text[i:], 0


def _joined(blocks: list[str]) -> str:
    """Reasoning mode's text: each block without its edge whitespace, empty ones left out."""
    return "\n\n".join(kept for block in blocks if (kept := block.strip()))


def reference(
    text: str, mode: str, pairs: tuple[tuple[str, str], ...], implicit: bool
) -> tuple[str, str]:
    """Regex reference for the no-nesting case, independent of the state machine."""
    if mode == "keep":
        return text, ""
    answer, blocks = _explicit(text, pairs)
    if implicit:
        body = text.lstrip()
        markers = [m for start, _ in pairs for m in DEFAULT_END_MARKERS.get(start, ())]
        first_end = _alternation(end for _, end in pairs).search(text)
        first_marker = _alternation(markers).search(text) if markers else None
        if any(body.startswith(start) for start, _ in pairs):
            answer, blocks = _explicit(body, pairs)
        elif first_end is not None:
            answer, blocks = _explicit(text[first_end.end() :].lstrip(), pairs)
            blocks = [text[: first_end.start()], *blocks]
        elif first_marker is not None:
            answer, blocks = _explicit(text[first_marker.start() :], pairs)
            blocks = [text[: first_marker.start()], *blocks]
    return answer, _joined(blocks) if mode == "reasoning" else ""


VOCAB = [
    "<think>",
    "</think>",
    "<",
    "</",
    "think",
    ">",
    "<th",
    "ink>",
    "</thi",
    "a",
    "bc",
    " ",
    "\n",
    "\t",
    "é",
    "日本",
    "🙂",
    "x y",
    "<thinking>",
    "[[",
    "]]",
    "[",
    "]",
    "<tool_call>",
    "<tool",
]

modes = st.sampled_from(["strip", "reasoning", "keep"])
texts = st.lists(st.sampled_from(VOCAB), max_size=40).map("".join)
splits = st.lists(st.integers(min_value=0, max_value=300), max_size=15)


@settings(max_examples=300, deadline=None)
@given(texts, modes, st.booleans(), splits)
def test_random_split_equals_reference(
    text: str, mode: str, implicit: bool, points: list[int]
) -> None:
    cfg = config(mode, (THINK,), implicit)
    expected = reference(text, mode, (THINK,), implicit)
    assert remove_think_blocks(text, cfg) == expected
    pieces = split_at(text, [p % (len(text) + 1) for p in points])
    assert feed_pieces(cfg, pieces) == expected


@settings(max_examples=250, deadline=None)
@given(texts, modes, st.booleans(), splits)
def test_random_split_two_pairs_equals_reference(
    text: str, mode: str, implicit: bool, points: list[int]
) -> None:
    pairs = (THINK, BRACKETS)
    cfg = config(mode, pairs, implicit)
    expected = reference(text, mode, pairs, implicit)
    assert remove_think_blocks(text, cfg) == expected
    pieces = split_at(text, [p % (len(text) + 1) for p in points])
    assert feed_pieces(cfg, pieces) == expected


# No letters of the tag names: segments cannot form tags, so the split into parts is the truth.
segments = st.lists(
    st.tuples(st.booleans(), st.text(alphabet="ab <>/\n\t日🙂", max_size=12)), max_size=8
)


@settings(max_examples=250, deadline=None)
@given(segments, st.sampled_from(["strip", "reasoning"]), splits)
def test_assembled_answer_and_think_segments(
    parts: list[tuple[bool, str]], mode: str, points: list[int]
) -> None:
    """Answer segments and think blocks assembled into one text come apart again."""
    text = "".join(f"<think>{seg}</think>" if is_think else seg for is_think, seg in parts)
    answer: list[str] = []
    think: list[str] = []
    trimming = False
    for is_think, seg in parts:
        if is_think:
            think.append(seg)
            trimming = True
            continue
        if trimming and (not "".join(answer) or "".join(answer)[-1].isspace()):
            seg = seg.lstrip()
        trimming = trimming and not seg
        answer.append(seg)
    expected = ("".join(answer), _joined(think) if mode == "reasoning" else "")
    assert reference(text, mode, (THINK,), False) == expected
    pieces = split_at(text, [p % (len(text) + 1) for p in points])
    assert feed_pieces(config(mode), pieces) == expected


@given(st.lists(st.text(alphabet="<>/thinkab \n", max_size=30), max_size=6), st.booleans())
@settings(max_examples=300)
def test_remove_think_blocks_reuses_its_filter_as_new(texts: list[str], implicit: bool) -> None:
    # The whole-text filter is cached per config: each call must give what a new filter gives.
    config = ThinkConfig(mode="reasoning", implicit_start=implicit)
    for text in texts:
        fresh = ThinkFilter(config)
        answer, think = fresh.feed(text)
        tail = fresh.finish()
        assert remove_think_blocks(text, config) == (answer + tail[0], think + tail[1])


def test_marker_holds_until_end_tag_or_finish() -> None:
    think_filter = ThinkFilter(config("reasoning"))
    assert think_filter.feed("<think>plan <tool_") == ("", "plan")
    assert think_filter.feed("call> x") == ("", "")  # held: an end tag may still follow
    assert think_filter.held_chars == len("<tool_call> x")
    assert think_filter.feed(" more</thi") == ("", "")
    assert think_filter.feed("nk> answer") == ("answer", " <tool_call> x more")
    # no end tag after the marker: the marker and what follows are answer, at the finish
    assert think_filter.feed("<think>b<tool_call>{}") == ("", "\n\nb")
    assert think_filter.finish("tool_calls") == ("<tool_call>{}", "")


def test_marker_cap_keeps_held_text_as_think(caplog: pytest.LogCaptureFixture) -> None:
    think_filter = ThinkFilter(config("strip"), max_held_chars=16)
    assert think_filter.feed("<think>a<tool_call>0123") == ("", "")
    with caplog.at_level(logging.WARNING, logger="cot_proxy.think"):
        assert think_filter.feed("456789") == ("", "")  # over the cap: think text, fail closed
    assert "end marker" in caplog.text
    assert "0123" not in caplog.text
    assert think_filter.held_chars == 0
    assert think_filter.feed("b</think>c") == ("c", "")
    assert think_filter.finish() == ("", "")


def test_filters_of_one_config_share_its_tag_tables() -> None:
    # Made once per config (a filter is made per channel per flow), equal configs alike.
    config = ThinkConfig(tags=(("<think>", "</think>"), ("[T]", "[/T]")), unwrap=(("<a>", "</a>"),))
    assert filter_tags(config) is filter_tags(dataclasses.replace(config))
    tags = filter_tags(config)
    assert tags.start_tags == {"<think>", "[T]"} and tags.wrappers == {"<a>", "</a>"}
    assert tags.markers == {"<tool_call>"} and tags.any_marker is not None
    assert tags.end_of["[T]"].tags == ("[/T]",) and tags.close_of["<think>"].tags == ("</think>",)
    assert ThinkFilter(config)._answer_tags is tags.answer_tags
