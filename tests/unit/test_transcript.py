"""The transcript kept under mitmweb: the same bytes to the client, the text recorded, bounded."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.body import filter_body
from cot_proxy.formats import FORMATS
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter
from cot_proxy.transcript import Tee
from cot_proxy.transcript import Transcript
from cot_proxy.transcript import render

from .test_stream import chat_chunk
from .test_stream import chat_stream
from .test_stream import run
from .test_stream import split_at
from .test_stream import sse

PIECES = ["<thi", "nk>why ", "not</th", "ink>\n\nHel", "lo <b>", "world"]


@pytest.mark.parametrize("mode", ["strip", "reasoning"])
@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.integers(min_value=0), max_size=6))
def test_recording_changes_no_byte_the_client_gets(mode, points):
    config = ThinkConfig(mode=mode)
    data = chat_stream(PIECES)
    chunks = split_at(data, points)
    plain = b"".join(run(FilterStream(config, FORMATS["chat"]), chunks))
    transcript = Transcript(mode, config.reasoning_field)
    recorded = b"".join(run(FilterStream(config, FORMATS["chat"], transcript=transcript), chunks))
    assert recorded == plain
    summary = transcript.summary()
    assert summary["channels"] == [{"channel": 0, "answer": "Hello <b>world", "think": "why not"}]


@pytest.mark.parametrize("mode", ["strip", "reasoning"])
def test_recording_filter_answers_like_a_plain_one(mode):
    config = ThinkConfig(mode=mode)
    plain = ThinkFilter(config)
    recording = ThinkFilter(config, observer=Transcript(mode, "r").observer(0))
    for piece in PIECES:
        assert recording.feed(piece) == plain.feed(piece)
    assert recording.finish() == plain.finish()
    assert recording.think_chars == plain.think_chars == len("why not")


def test_strip_records_reasoning_the_server_split_off_and_each_choice_apart():
    config = ThinkConfig()
    events = [
        chat_chunk({"reasoning_content": "server thought"}),
        chat_chunk({"content": "<think>a</think>A"}, index=0),
        chat_chunk({"content": "B"}, index=1),
        b"[DONE]",
    ]
    transcript = Transcript("strip", "reasoning_content")
    out = b"".join(run(FilterStream(config, FORMATS["chat"], transcript=transcript), [sse(events)]))
    assert b"server thought" not in out
    assert transcript.summary()["channels"] == [
        {"channel": 0, "answer": "A", "think": "server thoughta"},
        {"channel": 1, "answer": "B", "think": ""},
    ]
    text = render(transcript.summary())
    assert "[choice 1] what the client got (1 chars)" in text


def test_buffered_answer_is_recorded():
    body = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "<think>x</think>Y"}}]
    }
    transcript = Transcript("reasoning", "reasoning_content")
    out = filter_body(
        json.dumps(body).encode(), ThinkConfig(mode="reasoning"), FORMATS["chat"], transcript
    )
    assert out is not None and json.loads(out)["choices"][0]["message"]["reasoning_content"] == "x"
    summary = transcript.summary()
    assert summary["channels"] == [{"channel": 0, "answer": "Y", "think": "x"}]
    assert "think text moved to reasoning_content (1 chars)" in render(summary)


def test_text_and_stored_body_are_bounded():
    transcript = Transcript("strip", "r", limit=10)
    transcript.add_think(0, "123456")
    transcript.add_answer(0, "abcdef")
    transcript.add_answer(0, "more")
    assert transcript.summary()["channels"] == [{"channel": 0, "answer": "abcd", "think": "123456"}]
    assert transcript.truncated and "only the first" in render(transcript.summary())

    tee = Tee(lambda data: [data] if data else [], limit=5)
    assert tee(b"abc") == [b"abc"] and tee(b"defg") == [b"defg"] and tee(b"") == []
    assert bytes(tee.copy) == b"abcde" and tee.truncated
