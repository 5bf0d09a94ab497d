"""Counting reasoning and finding it inside think tags (cot_proxy.budget.count)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cot_proxy.budget.count import InlineTags
from cot_proxy.budget.count import Meter
from cot_proxy.budget.count import cost


def test_one_token_a_delta_or_one_per_four_characters():
    assert [cost(t) for t in ["a", "abcd", "abcde", "x" * 400]] == [1, 1, 2, 100]


def test_the_meter_keeps_what_fits():
    meter = Meter(3)
    assert meter.take("ab") == "ab" and meter.used == 1 and not meter.full
    assert meter.take("x" * 20) == "xxxxxxxx" and meter.used == 3 and meter.full
    assert meter.take("more") == "" and meter.used == 3


TEXT = "pre<think>one two</think>mid<think>three</think>post"


@given(st.lists(st.integers(0, len(TEXT)), max_size=10))
def test_any_split_finds_the_same_thought(cuts):
    edges = [0, *sorted(set(cuts)), len(TEXT)]
    tags = InlineTags("<think>", "</think>")
    pieces = [p for a, b in zip(edges, edges[1:], strict=False) for p in tags.split(TEXT[a:b])]
    assert "".join(p for _, p in pieces) == TEXT
    assert "".join(p for kind, p in pieces if kind == "think") == "one twothree"
    assert "".join(p for kind, p in pieces if kind == "text") == "premidpost"


def test_an_implicit_start_begins_inside():
    tags = InlineTags("<think>", "</think>", inside=True)
    assert tags.split("a</think>b") == [("think", "a"), ("tag", "</think>"), ("text", "b")]


def test_a_lone_angle_bracket_is_text_once_it_is_clearly_no_tag():
    tags = InlineTags("<think>", "</think>")
    assert tags.split("1 <") == [("text", "1 "), ("tag", "<")]
    assert tags.split(" 2") == [("text", " 2")]
