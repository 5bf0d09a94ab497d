"""NDJSONFramer: byte-exact line framing under any chunking, and the memory cap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.ndjson import NDJSONFramer
from cot_proxy.sse import OversizedChunk
from cot_proxy.sse import Unframed
from cot_proxy.sse import UnterminatedTail

# Ollama's shape: Go's json.Marshal escapes < and >, one "\n" after each line (server/routes.go).
STREAM = (
    b'{"model":"qwen3","created_at":"2026-12-01T12:00:00.1Z","response":"\\u003cthink\\u003e",'
    b'"done":false}\n'
    b'{"model":"qwen3","response":"Hi","done":false}\r\n'
    b"\n"
    b'{"model":"qwen3","response":"","done":true,"done_reason":"stop"}\n'
)


def frame(chunks: list[bytes], cap: int = 1 << 20) -> list[bytes]:
    framer = NDJSONFramer(cap)
    out: list[bytes] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    return out + framer.flush()


def split(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({min(p, len(data)) for p in points})
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def test_lines_keep_their_own_bytes() -> None:
    lines = frame([STREAM])
    assert lines == STREAM.splitlines(keepends=True)
    assert not any(isinstance(line, Unframed) for line in lines)


@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
@settings(max_examples=300)
def test_any_chunking_gives_the_same_lines(points: list[int]) -> None:
    assert frame(split(STREAM, points)) == STREAM.splitlines(keepends=True)


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=8), st.integers(1, 40))
@settings(max_examples=300)
def test_arbitrary_bytes_round_trip_under_any_cap(data: bytes, points: list[int], cap: int) -> None:
    out = frame(split(data, points), cap)
    assert b"".join(out) == data
    assert all(chunk for chunk in out)
    # What is not flagged is one whole line within the cap.
    for chunk in out:
        if not isinstance(chunk, Unframed):
            assert chunk.endswith(b"\n") and chunk.count(b"\n") == 1 and len(chunk) <= cap


def test_unterminated_tail_at_flush() -> None:
    framer = NDJSONFramer()
    assert framer.feed(b'{"done":false}\n{"do') == [b'{"done":false}\n']
    assert not framer.at_event_start and framer.buffered_bytes == 4
    (tail,) = framer.flush()
    assert isinstance(tail, UnterminatedTail) and tail == b'{"do'


def test_oversized_line_goes_out_as_it_comes_then_framing_resumes() -> None:
    framer = NDJSONFramer(8)
    first = framer.feed(b"0123456789")
    assert first == [b"0123456789"] and isinstance(first[0], OversizedChunk)
    assert framer.feed(b"abc") == [b"abc"]
    rest = framer.feed(b"d\n{}\n")
    assert rest == [b"d\n", b"{}\n"]
    assert isinstance(rest[0], OversizedChunk) and not isinstance(rest[1], Unframed)
    assert framer.at_event_start


def test_invalid_cap() -> None:
    with pytest.raises(ValueError):
        NDJSONFramer(0)
