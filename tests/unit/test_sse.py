"""SSEFramer / SSEEvent: byte-exact framing under any chunking, spec line endings, memory cap."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.sse import OversizedChunk
from cot_proxy.sse import SSEFramer
from cot_proxy.sse import Unframed
from cot_proxy.sse import UnterminatedTail
from cot_proxy.sse_event import DataLine
from cot_proxy.sse_event import SSEEvent
from cot_proxy.sse_event import make_event
from cot_proxy.sse_event import read_event
from cot_proxy.sse_event import single_data_line

ENDINGS = [b"\n", b"\r\n", b"\r"]

TEMPLATE = (
    b": keep-alive comment\n\n"
    b"\n"
    b'event: message\nid: 1\ndata: {"a": "x"}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"data\n\n"
    b"retry: 10\n\n"
    b"data: [DONE]\n\n"
)


def with_ending(template: bytes, ending: bytes) -> bytes:
    return template.replace(b"\n", ending)


SAMPLES = [with_ending(TEMPLATE, ending) for ending in ENDINGS] + [
    # mixed line endings, CRLF pairs next to lone CRs and LFs
    b"data: a\r\n\r\ndata: b\n\r\ndata: c\r\rdata: d\r\n\ndata: e\n\r",
    b"\r\n\n\r\r\n",
]


def reference_events(stream: bytes) -> tuple[list[bytes], bytes]:
    """Whole-input framing straight from the spec: an empty line ends an event."""
    events: list[bytes] = []
    start = line_start = 0
    for match in re.finditer(rb"\r\n|\n|\r", stream):
        if match.start() == line_start:
            events.append(stream[start : match.end()])
            start = match.end()
        line_start = match.end()
    return events, stream[start:]


def frame(chunks: list[bytes], max_event_bytes: int = 8 * 1024 * 1024) -> list[bytes]:
    framer = SSEFramer(max_event_bytes)
    out: list[bytes] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    out += framer.flush()
    return out


def split_at(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *sorted(points), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def check_framing(data: bytes, out: list[bytes]) -> None:
    assert b"".join(out) == data
    assert all(out), "no empty outputs"
    events, tail = reference_events(data)
    assert [o for o in out if not isinstance(o, Unframed)] == events
    tails = [o for o in out if isinstance(o, UnterminatedTail)]
    assert tails == ([tail] if tail else [])


@pytest.mark.parametrize("data", SAMPLES)
def test_every_single_split_point(data: bytes) -> None:
    for point in range(len(data) + 1):
        check_framing(data, frame(split_at(data, [point])))


@pytest.mark.parametrize("data", SAMPLES)
def test_byte_by_byte(data: bytes) -> None:
    check_framing(data, frame([data[i : i + 1] for i in range(len(data))]))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_random_multi_splits(data: bytes, points: list[int]) -> None:
    check_framing(data, frame(split_at(data, [p % (len(data) + 1) for p in points])))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"data: x",
                b"data:y",
                b": c",
                b"id: 7",
                b"\n",
                b"\r",
                b"\r\n",
                b"\xff\xfe",
                "é".encode(),
                b"data: e\n\n",
                b"\ndata: f\n\n",
            ]
        ),
        max_size=30,
    ),
    st.lists(st.integers(min_value=0, max_value=200), max_size=10),
)
def test_arbitrary_bytes_any_chunking(parts: list[bytes], points: list[int]) -> None:
    data = b"".join(parts)
    check_framing(data, frame(split_at(data, [p % (len(data) + 1) for p in points])))
    check_framing(data, frame(parts))  # chunk boundaries on token edges


@pytest.mark.parametrize("ending", ENDINGS)
def test_events_keep_their_own_bytes(ending: bytes) -> None:
    data = with_ending(TEMPLATE, ending)
    out = frame([data])
    assert out[0] == with_ending(b": keep-alive comment\n\n", ending)
    assert out[1] == ending  # a lone blank line is an (empty) event of its own
    assert out[2] == with_ending(b'event: message\nid: 1\ndata: {"a": "x"}\n\n', ending)
    assert out[-1] == with_ending(b"data: [DONE]\n\n", ending)


def test_crlf_split_across_chunks_is_one_line_ending() -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: a\r") == []
    assert framer.feed(b"\n\r") == []  # this CR may still be the start of CRLF
    assert framer.feed(b"\ndata: b\r\n\r\n") == [b"data: a\r\n\r\n", b"data: b\r\n\r\n"]
    assert framer.flush() == []


def test_lone_cr_event_end_is_released_when_next_chunk_arrives() -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: a\r\r") == []
    assert framer.feed(b"data: b\r\r") == [b"data: a\r\r"]
    assert framer.flush() == [b"data: b\r\r"]  # at the end a final CR is complete
    assert framer.buffered_bytes == 0


def test_flush_returns_unterminated_tail_raw() -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: a\n\ndata: b\n") == [b"data: a\n\n"]
    tail = framer.flush()
    assert tail == [b"data: b\n"]
    assert isinstance(tail[0], UnterminatedTail)
    assert framer.flush() == []


@pytest.mark.parametrize("tail", [b"x", b"da", b"\r", b"x\n", b"\n\n"[:1] + b"a"])
def test_short_tails(tail: bytes) -> None:
    check_framing(tail, frame([tail]))
    check_framing(b"data: a\n\n" + tail, frame([b"data: a\n\n", tail]))
    check_framing(b"data: a\n\n" + tail, frame([b"data: a\n\n" + tail]))


def test_leading_blank_line_in_a_fresh_chunk_is_its_own_event() -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: a\n\n") == [b"data: a\n\n"]
    assert framer.feed(b"\ndata: b\n\n") == [b"\n", b"data: b\n\n"]


def test_empty_feed_returns_nothing() -> None:
    framer = SSEFramer()
    assert framer.feed(b"") == []
    assert framer.flush() == []


def test_oversized_event_is_handed_out_raw_and_flagged() -> None:
    framer = SSEFramer(max_event_bytes=16)
    out = framer.feed(b"data: ok\n\ndata: " + b"x" * 30)
    assert out[0] == b"data: ok\n\n" and not isinstance(out[0], Unframed)
    assert all(isinstance(o, OversizedChunk) for o in out[1:])
    assert framer.in_oversized_event
    assert framer.buffered_bytes <= 3  # memory stays bounded
    out2 = framer.feed(b"y" * 100)
    assert all(isinstance(o, OversizedChunk) for o in out2)
    assert framer.buffered_bytes <= 3
    out3 = framer.feed(b"z\n\ndata: next\n\n")
    assert isinstance(out3[0], OversizedChunk) and out3[0].endswith(b"z\n\n")
    assert out3[1:] == [b"data: next\n\n"] and not isinstance(out3[1], Unframed)
    assert not framer.in_oversized_event
    everything = out + out2 + out3 + framer.flush()
    assert (
        b"".join(everything)
        == b"data: ok\n\ndata: " + b"x" * 30 + b"y" * 100 + b"z\n\ndata: next\n\n"
    )


def test_complete_event_over_cap_in_one_chunk_is_flagged_too() -> None:
    out = frame([b"data: " + b"x" * 40 + b"\n\ndata: a\n\n"], max_event_bytes=16)
    assert isinstance(out[0], OversizedChunk)
    assert out[1:] == [b"data: a\n\n"]


def test_oversized_tail_at_flush_stays_oversized() -> None:
    framer = SSEFramer(max_event_bytes=8)
    out = framer.feed(b"data: " + b"x" * 20) + framer.flush()
    assert all(isinstance(o, OversizedChunk) for o in out)
    assert b"".join(out) == b"data: " + b"x" * 20


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=40), st.sampled_from(ENDINGS)), max_size=8
    ),
    st.integers(min_value=4, max_value=30),
    st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_oversized_any_chunking(
    events: list[tuple[int, bytes]], cap: int, points: list[int]
) -> None:
    data = b"".join(b"data: " + b"x" * size + ending + ending for size, ending in events)
    out = frame(split_at(data, [p % (len(data) + 1) for p in points]), max_event_bytes=cap)
    assert b"".join(out) == data
    assert all(out)
    expected, _ = reference_events(data)
    assert [o for o in out if not isinstance(o, Unframed)] == [e for e in expected if len(e) <= cap]


def test_invalid_cap() -> None:
    with pytest.raises(ValueError):
        SSEFramer(0)


# -- SSEEvent -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ENDINGS)
def test_parse_fields_comments_and_multiline_data(ending: bytes) -> None:
    raw = with_ending(
        b": hello\nevent: delta\nid: 42\ndata: first\ndata:second\ndata\nx: y\n\n", ending
    )
    event = SSEEvent.parse(raw)
    assert event.to_bytes() == raw
    assert [line.value for line in event.lines if line.text.startswith(b":")] == [b"hello"]
    assert [(line.name, line.value) for line in event.lines if line.name] == [
        (b"event", b"delta"),
        (b"id", b"42"),
        (b"data", b"first"),
        (b"data", b"second"),
        (b"data", b""),
        (b"x", b"y"),
    ]
    assert [line.ending for line in event.lines] == [ending] * 8
    assert event.lines[-1].is_blank
    assert event.data == b"first\nsecond\n"
    assert event.line_ending == ending


def test_value_loses_only_one_leading_space() -> None:
    assert SSEEvent.parse(b"data:  two\n\n").data == b" two"
    assert SSEEvent.parse(b"data:x:y\n\n").data == b"x:y"


def test_no_data_line() -> None:
    assert SSEEvent.parse(b": only a comment\n\n").data is None
    assert SSEEvent.parse(b"\n").data is None


@pytest.mark.parametrize("ending", ENDINGS)
def test_with_data_keeps_other_lines_in_order(ending: bytes) -> None:
    raw = with_ending(b": c\nevent: e\ndata: old1\nid: 5\ndata: old2\n\n", ending)
    rebuilt = SSEEvent.parse(raw).with_data(b"new")
    assert rebuilt == with_ending(b": c\nevent: e\ndata: new\nid: 5\n\n", ending)
    assert SSEEvent.parse(rebuilt).data == b"new"


def test_with_data_multiline_payload_and_missing_data_line() -> None:
    assert SSEEvent.parse(b"data: a\r\n\r\n").with_data(b"x\ny") == b"data: x\r\ndata: y\r\n\r\n"
    assert SSEEvent.parse(b"id: 1\n\n").with_data(b"p") == b"id: 1\ndata: p\n\n"
    assert SSEEvent.parse(b"id: 1").with_data(b"p") == b"id: 1\ndata: p\n\n"


def test_with_data_unterminated_event() -> None:
    rebuilt = SSEEvent.parse(b"data: a").with_data(b"b")
    assert SSEEvent.parse(rebuilt).data == b"b"


def test_derive_and_make_event() -> None:
    source = SSEEvent.parse(b"event: x\r\nid: 3\r\n: c\r\ndata: old\r\n\r\n")
    assert source.derive(b"new") == b"event: x\r\ndata: new\r\n\r\n"
    assert make_event(b"p", b"\r") == b"data: p\r\r"


# -- the framer's fast path and state ------------------------------------------------------------


def test_one_lf_event_per_chunk_is_handed_out_uncopied() -> None:
    framer = SSEFramer()
    event = b'data: {"a": 1}\n\n'
    assert framer.feed(event)[0] is event


def test_one_event_completed_from_held_bytes() -> None:
    framer = SSEFramer()
    assert framer.feed(b"data: a") == []
    assert framer.feed(b"b\n\n") == [b"data: ab\n\n"]
    assert framer.feed(b"data: c") == []
    assert framer.feed(b"\n\ndata: d\n\n") == [b"data: c\n\n", b"data: d\n\n"]


def test_at_event_start() -> None:
    framer = SSEFramer(max_event_bytes=8)
    assert framer.at_event_start
    framer.feed(b"data: a")
    assert not framer.at_event_start and framer.buffered_bytes == 7
    framer.feed(b"\n\n")
    assert framer.at_event_start
    framer.feed(b"data: " + b"x" * 20)
    assert framer.in_oversized_event and not framer.at_event_start
    framer.flush()
    assert framer.at_event_start


# -- EventSource ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ENDINGS)
def test_read_event_single_data_line(ending: bytes) -> None:
    for raw, payload in [
        (b"data: {}" + ending * 2, b"{}"),
        (b"data:{}" + ending * 2, b"{}"),
        (b"data:  x" + ending * 2, b" x"),
        (b"data:" + ending * 2, b""),
    ]:
        data, source = read_event(raw)
        assert data == payload
        assert isinstance(source, DataLine) and source.ending == ending
        assert single_data_line(raw) == (payload, ending)
        assert source.with_data(b"new") == b"data: new" + ending * 2
        assert source.derive(b"new") == b"data: new" + ending * 2


@pytest.mark.parametrize(
    "raw",
    [
        b"data: a\ndata: b\n\n",
        b"data: a\rdata: b\n\n",
        b"event: x\ndata: a\n\n",
        b"data: a\r\n\n",
        b": c\n\n",
        b"\n",
        b"data: a",
    ],
)
def test_read_event_other_shapes_are_parsed(raw: bytes) -> None:
    data, source = read_event(raw)
    assert isinstance(source, SSEEvent)
    assert data == SSEEvent.parse(raw).data
    assert source.with_data(b"p") == SSEEvent.parse(raw).with_data(b"p")
    assert single_data_line(raw) is None


def test_both_sources_rebuild_the_same_bytes() -> None:
    for ending in ENDINGS:
        raw = b"data: old" + ending * 2
        _, source = read_event(raw)
        parsed = SSEEvent.parse(raw)
        assert source.with_data(b"new") == parsed.with_data(b"new")
        assert source.derive(b"new") == parsed.derive(b"new")
        assert source.derive(b"a\nb") == parsed.derive(b"a\nb")
