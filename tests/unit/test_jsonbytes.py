"""decode_json / encode_json agree with the json module; json_spellings, fewest_needles and
split_escaped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.jsonbytes import BACKSLASH
from cot_proxy.jsonbytes import decode_json
from cot_proxy.jsonbytes import encode_json
from cot_proxy.jsonbytes import fewest_needles
from cot_proxy.jsonbytes import json_spellings
from cot_proxy.jsonbytes import needles_for
from cot_proxy.jsonbytes import split_escaped
from cot_proxy.think_config import ThinkConfig

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


def test_encode_json_matches_json_dumps() -> None:
    obj = {"a": [1, 2.5, None, True, 'é<"\\\n'], "b": {"c": -0.0, "d": 1e300}}
    expected = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    assert encode_json(obj) == expected


@settings(max_examples=200, deadline=None)
@given(json_values, st.booleans())
def test_round_trip_agrees_with_the_json_module(value: Any, ensure_ascii: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ensure_ascii).encode()
    assert decode_json(raw) == json.loads(raw)
    assert (
        encode_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_lone_surrogate_is_encoded_with_ascii_escapes() -> None:
    assert encode_json({"t": "\ud800é"}) == b'{"t":"\\ud800\\u00e9"}'


@pytest.mark.parametrize("raw", [b' {"a": 1}', b'{"a": 1} ', b"\n[1]\n", b"1"])
def test_decode_json_whitespace_and_scalars(raw: bytes) -> None:
    assert decode_json(raw) == json.loads(raw)


@pytest.mark.parametrize("raw", [b"{not json", b'{"a": 1} x', b"", b"\xff"])
def test_decode_json_rejects_what_json_loads_rejects(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_json(raw)


def test_encode_json_rejects_what_json_cannot_carry() -> None:
    with pytest.raises(TypeError):
        encode_json({"a": object()})


def test_fast_path_needles_cover_escapes() -> None:
    assert set(json_spellings("<")) == {b"<", b"\\u003c", b"\\u003C"}
    assert b"\\/" in json_spellings("/")
    assert b"\\ud83e" in json_spellings("🤔") and b"\\uD83E" in json_spellings("🤔")


@pytest.mark.parametrize("char", ["<", "[", "/", "é", "A"])
def test_every_spelling_is_one_json_may_write(char: str) -> None:
    for spelling in json_spellings(char):
        assert json.loads(b'"' + spelling + b'"') == char
    for ensure_ascii in (False, True):
        written = json.dumps(char, ensure_ascii=ensure_ascii).encode()[1:-1]
        assert written in json_spellings(char)


def test_a_non_bmp_character_is_spotted_by_its_first_surrogate() -> None:
    escaped = json.dumps("🤔").encode()[1:-1]  # b"\\ud83e\\udd14"
    assert any(escaped.startswith(spelling) for spelling in json_spellings("🤔"))
    assert "🤔".encode() in json_spellings("🤔")


def test_fewest_needles_still_match_every_spelling() -> None:
    spellings = json_spellings("<") + json_spellings("[") + [b'"reasoning', b'"reasoning_content']
    needles = fewest_needles(spellings)
    assert set(needles) == {b"<", b"[", b"\\u003", b"\\u005", b'"reasoning'}
    for spelling in spellings:
        assert any(needle in spelling for needle in needles)


@pytest.mark.parametrize("char", ["<", "[", "/", "🤔", "\\"])
def test_split_escaped_needles_are_behind_a_backslash(char: str) -> None:
    needles = needles_for(ThinkConfig(tags=((char + "x", "y"),)), (b'"reasoning',))
    plain, escaped = split_escaped(needles)
    assert set(plain) | set(escaped) == set(needles)
    for spelling in json_spellings(char):  # each still found: plainly, or after a backslash
        found_plain = any(needle in spelling for needle in plain)
        found_escaped = BACKSLASH in spelling and any(needle in spelling for needle in escaped)
        assert found_plain or found_escaped
    assert all(needle[0] == BACKSLASH for needle in escaped)
