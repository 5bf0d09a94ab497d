"""Fuzzing the parsers: no input makes them raise anything but the documented error, no input crashes a stream."""

from __future__ import annotations

import json
import logging

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.body import filter_body
from cot_proxy.formats import FORMATS
from cot_proxy.rules import ConfigError
from cot_proxy.rules import parse_config
from cot_proxy.sse import SSEFramer
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

configs = st.builds(
    ThinkConfig,
    mode=st.sampled_from(["strip", "reasoning", "keep"]),
    tags=st.sampled_from([(("<think>", "</think>"),), (("<think>", "</think>"), ("[T]", "[/T]"))]),
    implicit_start=st.booleans(),
)
endpoints = st.sampled_from(["chat", "completions"])

# JSON that is shaped like a chunk, but with any type anywhere.
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.sampled_from(["<think>", "</think>", "<th"]),
)
json_any = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
choice = st.fixed_dictionaries(
    {},
    optional={
        "index": st.one_of(st.integers(-2, 3), json_any),
        "delta": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"content": json_any, "reasoning_content": json_any, "role": json_any}
            ),
            json_any,
        ),
        "message": json_any,
        "text": json_any,
        "finish_reason": json_any,
    },
)
chunk_objects = st.fixed_dictionaries(
    {}, optional={"choices": st.one_of(st.lists(choice, max_size=3), json_any), "usage": json_any}
)


class Collect(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def data_events(objects: list[object]) -> bytes:
    return b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in objects)


def run_stream(stream: FilterStream, data: bytes, cuts: list[int]) -> bytes:
    out: list[bytes] = []
    last = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        piece = data[last:cut]
        last = cut
        if piece:
            result = stream(piece)
            assert isinstance(result, list) and b"" not in result
            out += result
    out += stream(b"")
    return b"".join(out)


@FUZZ
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6), configs, endpoints)
def test_stream_survives_arbitrary_bytes(data, cuts, config, endpoint):
    run_stream(FilterStream(config, FORMATS[endpoint]), data, cuts)


@FUZZ
@given(
    st.lists(chunk_objects, max_size=6),
    st.lists(st.integers(0, 2000), max_size=6),
    configs,
    endpoints,
)
def test_stream_survives_oddly_typed_json_without_falling_back(objects, cuts, config, endpoint):
    errors = Collect(logging.ERROR)
    logging.getLogger("cot_proxy").addHandler(errors)
    try:
        stream = FilterStream(config, FORMATS[endpoint])
        run_stream(stream, data_events(objects) + b"data: [DONE]\n\n", cuts)
    finally:
        logging.getLogger("cot_proxy").removeHandler(errors)
    # Odd shapes are passed on, not treated as a failure of the filter.
    assert not stream.passthrough, stream.fallback_reason
    assert not errors.records


@FUZZ
@given(
    st.one_of(st.binary(max_size=300), chunk_objects.map(lambda o: json.dumps(o).encode())),
    configs,
    endpoints,
)
def test_filter_body_never_raises(body, config, endpoint):
    result = filter_body(body, config, FORMATS[endpoint])
    assert result is None or isinstance(json.loads(result), dict)


@FUZZ
@given(st.lists(st.text(max_size=20), max_size=10), configs)
def test_think_filter_never_raises(pieces, config):
    think = ThinkFilter(config)
    for piece in pieces:
        think.feed(piece)
    think.finish()


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=5))
def test_sse_framer_loses_nothing(data, cuts):
    framer = SSEFramer()
    out: list[bytes] = []
    last = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        out += framer.feed(data[last:cut])
        last = cut
    out += framer.flush()
    assert b"".join(out) == data


yaml_ish = st.text(
    alphabet="models:- \n\t{}[],\"'#:&*!|>%@`abcdefghijklmnopqrstuvwxyz_0123456789.=", max_size=120
)


@FUZZ
@given(st.one_of(yaml_ish, st.text(max_size=80)))
def test_config_yaml_raises_only_config_error(text):
    try:
        parse_config(text, "fuzz.yaml")
    except ConfigError as e:
        assert "\n" not in str(e).strip()
