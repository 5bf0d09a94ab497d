"""FilterStream, the conductor of the event formats, with a toy format: framing, pass-through of
untouched events, in-place and new events, heartbeats, end of stream, fall-back, keep mode."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.body import filter_body_counted
from cot_proxy.filters import ChannelFilter
from cot_proxy.formats._api import SAME
from cot_proxy.formats._api import Framing
from cot_proxy.formats._api import NewFilter
from cot_proxy.formats._api import failure_message
from cot_proxy.stream import SSE_PING
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Transcript


class ToyRewriter:
    """Text in `{"type": "delta", "text"}` events, one channel; `{"type": "end"}` ends it."""

    def __init__(self, new_filter: NewFilter, fail_on: str | None = None) -> None:
        self.filter: ChannelFilter = new_filter(0)
        self.fail_on = fail_on
        self.answered = False
        self.finished = False

    def passes(self, raw: bytes) -> bool:
        return self.filter.idle and b"<" not in raw and b'"end"' not in raw

    def passes_tail(self, raw: bytes) -> bool:
        return self.passes(raw)

    def event(self, obj: Any, source: Any = None) -> list[Any] | None:
        if obj.get("type") == "end":
            answer, _ = self.filter.finish()
            self.finished = True
            return [{"type": "delta", "text": answer}, SAME] if answer else None
        text = obj.get("text")
        if type(text) is not str:
            return None
        if text == self.fail_on:
            raise RuntimeError("boom")
        answer, _ = self.filter.feed(text)
        if not answer:
            return []
        self.answered = True
        if answer == text:
            return None
        obj["text"] = answer
        return [obj]

    def end(self) -> list[Any]:
        answer, _ = self.filter.finish()
        return [{"type": "delta", "text": answer}] if answer else []

    def heartbeat(self) -> Any | None:
        return None if self.framing == "sse" else {"type": "delta", "text": ""}

    framing: Framing = "sse"


class Toy:
    name = "toy"
    done_payload: bytes | None = None

    def __init__(self, framing: Framing = "sse", fail_on: str | None = None) -> None:
        self.framing = framing
        self.fail_on = fail_on

    def rewriter(self, config: ThinkConfig, new_filter: NewFilter) -> ToyRewriter:
        made = ToyRewriter(new_filter, self.fail_on)
        made.framing = self.framing
        return made

    def failure(self, message: str) -> dict[str, Any]:
        return {"type": "error", "message": message}

    def filter_body(self, obj: Any, config: ThinkConfig, new_filter: NewFilter) -> bool:
        think_filter = new_filter(0)
        answer, _ = think_filter.feed(obj["text"])
        answer += think_filter.finish()[0]
        changed = answer != obj["text"]
        obj["text"] = answer
        return changed


def sse(obj: dict[str, Any], ending: bytes = b"\n") -> bytes:
    return (
        b"event: "
        + obj["type"].encode()
        + ending
        + b"data: "
        + json.dumps(obj).encode()
        + ending * 2
    )


def delta(text: str) -> dict[str, Any]:
    return {"type": "delta", "text": text}


STREAM = [
    delta("<think>plan"),
    delta(" more</think>"),
    delta("Hello"),
    delta(" world"),
    {"type": "end"},
]
RAW = b"".join(sse(e) for e in STREAM)


def run(stream: FilterStream, chunks: list[bytes]) -> bytes:
    out: list[bytes] = []
    for chunk in chunks:
        sent = stream(chunk)
        assert b"" not in sent
        out += sent
    return b"".join(out + stream(b""))


def split(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({min(p, len(data)) for p in points})
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def test_strip_drops_think_events_and_passes_the_others_byte_for_byte() -> None:
    stream = FilterStream(ThinkConfig(), Toy())
    out = run(stream, [RAW])
    assert out == sse(delta("Hello")) + sse(delta(" world")) + sse({"type": "end"})
    assert stream.think_chars == len("plan more") and stream.think_blocks == 1
    assert stream.done_sent and stream.first_answer_at is not None and not stream.passthrough


@given(st.lists(st.integers(0, len(RAW)), max_size=10))
@settings(max_examples=200)
def test_any_split_gives_the_same_output(points: list[int]) -> None:
    whole = run(FilterStream(ThinkConfig(), Toy()), [RAW])
    assert run(FilterStream(ThinkConfig(), Toy()), split(RAW, points)) == whole


def test_held_text_goes_out_before_the_terminal_event_as_a_named_event() -> None:
    raw = sse(delta("Hi <thi")) + sse({"type": "end"})
    out = run(FilterStream(ThinkConfig(), Toy()), [raw])
    # "<thi" may start a tag: held, then released as a new event with an `event:` line.
    assert out == (
        b'event: delta\ndata: {"type":"delta","text":"Hi "}\n\n'
        b'event: delta\ndata: {"type":"delta","text":"<thi"}\n\n' + sse({"type": "end"})
    )


def test_held_text_goes_out_before_an_unterminated_tail() -> None:
    raw = sse(delta("Hi <thi")) + b"data: {cut"
    out = run(FilterStream(ThinkConfig(), Toy()), [raw])
    assert out.endswith(b'data: {"type":"delta","text":"<thi"}\n\n' + b"data: {cut")


def test_strip_drops_an_unterminated_tail_that_may_hold_think_text() -> None:
    tail = b'data: {"type":"delta","text":"<think>secret"}'
    assert run(FilterStream(ThinkConfig(), Toy()), [sse(delta("Hi")) + tail]) == sse(delta("Hi"))
    out = run(FilterStream(REASONING, Toy()), [sse(delta("Hi")) + tail])
    assert out == sse(delta("Hi")) + tail  # other modes hide nothing


def test_data_only_events_get_data_only_new_events() -> None:
    raw = b'data: {"type": "delta", "text": "Hi <thi"}\r\n\r\n'
    out = run(FilterStream(ThinkConfig(), Toy()), [raw])
    assert (
        out
        == b'data: {"type":"delta","text":"Hi "}\r\n\r\ndata: {"type":"delta","text":"<thi"}\r\n\r\n'
    )


def test_not_json_and_comments_pass_as_they_came() -> None:
    raw = b": hello\n\nevent: x\ndata: <not json\n\n" + RAW
    out = run(FilterStream(ThinkConfig(), Toy()), [raw])
    assert out.startswith(b": hello\n\nevent: x\ndata: <not json\n\n")


def test_a_sign_of_life_while_a_long_think_block_is_dropped() -> None:
    now = [0.0]
    stream = FilterStream(ThinkConfig(), Toy(), clock=lambda: now[0], heartbeat_seconds=5.0)
    assert stream(sse(delta("<think>a"))) == []
    now[0] = 4.0
    assert stream(sse(delta("b"))) == []
    now[0] = 6.0
    assert stream(sse(delta("c"))) == [SSE_PING]
    now[0] = 8.0
    assert stream(sse(delta("d"))) == []  # the ping counted as output


def test_ndjson_heartbeat_is_the_rewriters_chunk_and_lines_keep_their_ending() -> None:
    now = [0.0]
    stream = FilterStream(ThinkConfig(), Toy("ndjson"), clock=lambda: now[0])
    assert stream(b'{"type":"delta","text":"<think>a"}\n') == []
    now[0] = 10.0
    assert stream(b'{"type":"delta","text":"b"}\n') == [b'{"type":"delta","text":""}\n']
    out = stream(b'{"type":"delta", "text":"</think>Hi"}\r\n')
    assert out == [b'{"type":"delta","text":"Hi"}\r\n']
    assert stream(b'{"type":"end"}\n') == [b'{"type":"end"}\n']
    assert stream(b"") == [] and stream.done_sent


REASONING = ThinkConfig(mode="reasoning")


def failed(reason: str) -> dict[str, Any]:
    return {"type": "error", "message": failure_message(reason)}


def decoded(out: bytes) -> list[dict[str, Any]]:
    """The events of an SSE stream whose events are all named by their type."""
    events = []
    for block in out.split(b"\n\n")[:-1]:
        name, data = block.split(b"\n")
        events.append(json.loads(data.removeprefix(b"data: ")))
        assert name == b"event: " + events[-1]["type"].encode()
    return events


def test_strip_mode_fails_closed_after_an_error_in_the_rewriter() -> None:
    raw = sse(delta("Hi <think>x")) + sse(delta("boom")) + sse(delta("y</think> after"))
    stream = FilterStream(ThinkConfig(), Toy(fail_on="boom"))
    out = run(stream, [raw])
    assert decoded(out) == [delta("Hi "), failed("error: RuntimeError")]
    assert stream.cut and not stream.passthrough
    assert stream.fallback_reason == "error: RuntimeError" and not stream.done_sent


def test_strip_mode_sends_held_answer_text_before_the_error_event() -> None:
    config = ThinkConfig(implicit_start=True)  # all text is held until the end tag
    stream = FilterStream(config, Toy(fail_on="boom"))
    out = run(stream, [sse(delta("a</think>B <")), sse(delta("boom")), sse(delta("more"))])
    assert decoded(out) == [delta("B "), delta("<"), failed("error: RuntimeError")]


def test_other_modes_fall_back_to_raw_bytes_after_an_error() -> None:
    raw = sse(delta("<think>x")) + sse(delta("boom")) + sse(delta("after"))
    stream = FilterStream(REASONING, Toy(fail_on="boom"))
    out = run(stream, [raw])
    assert out == sse(delta("boom")) + sse(delta("after"))
    assert stream.passthrough and not stream.cut
    assert stream.fallback_reason == "error: RuntimeError"


def test_an_oversized_event_ends_a_strip_stream() -> None:
    big = sse(delta("<think>" + "x" * 200))
    stream = FilterStream(ThinkConfig(), Toy(), max_event_bytes=100)
    out = run(stream, [sse(delta("Hi")), big, sse(delta("<think>y</think>z"))])
    assert decoded(out) == [delta("Hi"), failed("oversized event")]
    assert stream.cut and stream.fallback_reason == "oversized event"


def test_an_oversized_event_falls_back_in_other_modes() -> None:
    big = sse(delta("x" * 200))
    stream = FilterStream(REASONING, Toy(), max_event_bytes=100)
    out = run(stream, [sse(delta("Hi")), big, sse(delta("<think>y</think>z"))])
    assert out == sse(delta("Hi")) + big + sse(delta("<think>y</think>z"))
    assert stream.passthrough and stream.fallback_reason == "oversized event"


def test_the_error_event_is_unnamed_only_in_a_stream_of_unnamed_events() -> None:
    stream = FilterStream(ThinkConfig(), Toy(fail_on="<b"))
    out = run(stream, [b'data: {"type":"delta","text":"<b"}\n\n'])
    assert out.startswith(b"data: ") and out.endswith(b"\n\n")
    assert json.loads(out[6:]) == {
        "type": "error",
        "message": failure_message("error: RuntimeError"),
    }
    stream = FilterStream(ThinkConfig(), Toy(), max_event_bytes=10)  # no event seen: named
    assert run(stream, [sse(delta("x" * 20))]).startswith(b"event: error\ndata: ")


def test_ndjson_strip_stream_ends_with_the_error_line() -> None:
    stream = FilterStream(ThinkConfig(), Toy("ndjson", fail_on="<b"))
    out = run(stream, [b'{"type":"delta","text":"Hi"}\n{"type":"delta","text":"<b"}\n{"x":1}\n'])
    lines = out.splitlines()
    assert lines[0] == b'{"type":"delta","text":"Hi"}' and len(lines) == 2
    assert json.loads(lines[1])["type"] == "error"


@given(st.lists(st.integers(0, len(RAW)), max_size=10))
@settings(max_examples=100)
def test_keep_mode_is_byte_identical(points: list[int]) -> None:
    stream = FilterStream(ThinkConfig(mode="keep"), Toy())
    assert run(stream, split(RAW, points)) == RAW
    assert stream.done_sent and stream.think_chars == 0


def test_buffered_answers_go_through_the_formats_filter_body() -> None:
    body = json.dumps({"text": "<think>plan</think>Hello"}).encode()
    assert filter_body_counted(body, ThinkConfig(), Toy()) == (b'{"text":"Hello"}', 4)
    assert filter_body_counted(b'{"text":"Hello"}', ThinkConfig(), Toy()) == (None, 0)
    assert filter_body_counted(b"not json", ThinkConfig(), Toy()) == (None, 0)
    assert filter_body_counted(b'{"no":"text"}', ThinkConfig(), Toy()) == (None, 0)
    assert filter_body_counted(body, ThinkConfig(mode="keep"), Toy()) == (None, 0)


def test_a_last_ndjson_line_without_its_lf_is_still_a_line() -> None:
    stream = FilterStream(ThinkConfig(), Toy("ndjson"))
    assert stream(b'{"type":"delta","text":"Hi <thi"}\n') == [b'{"type":"delta","text":"Hi "}\n']
    out = stream(b'{"type":"end"}')
    assert out == []
    # The end line, cut off: held text goes out before it, each on a line of its own.
    assert stream(b"") == [b'{"type":"delta","text":"<thi"}\n', b'{"type":"end"}']
    assert stream.done_sent


def test_under_mitmweb_every_event_reaches_the_recording_filters() -> None:
    transcript = Transcript("strip", "reasoning_content")
    stream = FilterStream(ThinkConfig(), Toy(), transcript=transcript)
    assert run(stream, [RAW]) == sse(delta("Hello")) + sse(delta(" world")) + sse({"type": "end"})
    (channel,) = transcript.summary()["channels"]
    assert channel["answer"] == "Hello world" and channel["think"] == "plan more"
