"""loads_body / dumps_body (cot_proxy.jsonbytes): orjson's speed, the json module's results."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cot_proxy.jsonbytes import dumps_body
from cot_proxy.jsonbytes import encode_json
from cot_proxy.jsonbytes import has_long_number
from cot_proxy.jsonbytes import loads_body

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (1 is not 1.0 here)."""
    return json.dumps(a, sort_keys=False) == json.dumps(b, sort_keys=False)


@given(json_values, st.booleans())
def test_a_body_reads_and_writes_as_the_json_module_does(value: Any, ascii_: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_).encode()
    got = loads_body(raw)
    assert same(got, json.loads(raw))
    written = dumps_body(got)
    assert same(json.loads(written), value)
    assert json.loads(written) == json.loads(encode_json(value))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"seed": 123456789012345678901234567890}',  # beyond 64 bits: orjson would make a float
        b'{"x": NaN, "y": -Infinity}',  # not strict JSON; json reads it, and writes it back
        b'{"x": 1e400}',
        b'\xef\xbb\xbf{"a": 1}',  # a BOM
        '{"a": "é"}'.encode("utf-16"),
        b'{"s": "\\ud800"}',  # a lone surrogate
        b"[NaN]",
        b'{"a": 1, "a": 2}',
    ],
)
def test_what_orjson_refuses_or_would_change_is_left_to_json(raw: bytes) -> None:
    got = loads_body(raw)
    assert same(got, json.loads(raw))
    assert dumps_body(got) == encode_json(json.loads(raw))


def test_non_finite_floats_are_written_as_json_writes_them_not_as_null() -> None:
    body = loads_body(b'{"temperature": Infinity, "messages": []}')
    body["top_p"] = 0.9  # a rule's forced param
    assert math.isinf(body["temperature"])
    assert dumps_body(body) == b'{"temperature":Infinity,"messages":[],"top_p":0.9}'


@pytest.mark.parametrize("raw", [b'{"a":', b"\xff", b""])
def test_bad_json_fails_as_json_loads_does(raw: bytes) -> None:
    with pytest.raises(Exception) as expected:
        json.loads(raw)
    with pytest.raises(type(expected.value)):
        loads_body(raw)


def naive_long_number(data: bytes) -> bool:
    return re.search(rb"[0-9]{19}", data) is not None


# Padding without digits that takes a body past the size from which has_long_number samples.
SAMPLED = b" " * 4096


@given(
    st.lists(st.sampled_from([b"1", b"23", b"4567890", b" ", b'"', b"a", b"-"]), max_size=200),
    st.sampled_from([b"", SAMPLED]),
)
def test_a_long_digit_run_is_found_wherever_it_lies(pieces: list[bytes], pad: bytes) -> None:
    data = pad + b"".join(pieces)
    assert has_long_number(data) == naive_long_number(data)


@pytest.mark.parametrize("pad", [b"", SAMPLED])
@pytest.mark.parametrize("run", [18, 19, 20, 40])
def test_a_digit_run_is_found_at_every_offset(run: int, pad: bytes) -> None:
    for offset in range(30):
        data = pad + b" " * offset + b"7" * run + b" " * 30
        assert has_long_number(data) == (run >= 19), (offset, run)


@pytest.mark.parametrize("repeat", [50, 200])
def test_many_dates_before_a_long_number_still_find_it(repeat: int) -> None:
    dates = b'"2026-12-07T10:00:00.123456Z 1733580000000", ' * repeat
    assert not has_long_number(dates)
    data = b"[" + dates + b"123456789012345678901234567890]"
    assert has_long_number(data)
    assert same(loads_body(data), json.loads(data))
    assert loads_body(data)[-1] == 123456789012345678901234567890
