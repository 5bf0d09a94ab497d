"""Whole events from any split of a stream (cot_proxy.budget.events)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cot_proxy.budget.events import LineSplitter
from cot_proxy.budget.events import SSESplitter
from cot_proxy.budget.events import data_of
from cot_proxy.budget.events import event_object
from cot_proxy.budget.events import json_object

SSE = b'data: {"a": 1}\n\n: keep-alive\r\n\r\ndata: x\ndata: y\n\ndata: [DONE]\n\n'


@given(st.lists(st.integers(0, len(SSE)), max_size=8))
def test_sse_events_from_any_split(cuts):
    edges = [0, *sorted(set(cuts)), len(SSE)]
    splitter = SSESplitter()
    events = [e for a, b in zip(edges, edges[1:], strict=False) for e in splitter.feed(SSE[a:b])]
    assert [data_of(e) for e in events] == ['{"a": 1}', None, "x\ny", "[DONE]"]


def test_lines():
    splitter = LineSplitter()
    assert splitter.feed(b'{"a"') == []
    assert splitter.feed(b': 1}\n\n{"b": 2}\n') == [b'{"a": 1}', b'{"b": 2}']


def test_event_object_is_the_data_of_an_event_holding_a_json_object() -> None:
    assert event_object(b'data: {"a": 1}\n\n') == {"a": 1}
    assert event_object(b"data: [DONE]\n\n") is None
    assert event_object(b": a comment\n\n") is None
    assert event_object(b"data: [1, 2]\n\n") is None
    assert event_object(b"data: {broken\n\n") is None


def test_json_object_of_a_line() -> None:
    assert json_object(b'{"done": true}') == {"done": True}
    assert json_object(b'"text"') is None
    assert json_object(b"\xff") is None
    assert json_object(None) is None
