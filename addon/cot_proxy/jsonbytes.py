"""JSON at the byte level: fast decode/encode of one event's payload, and how a character is spelt.

`decode_json` and `encode_json` run once per parsed event, so they reach past the `json` module's
front door to the C scanner and the C encoder it builds on every call. Measured on a typical
170-byte chat chunk (CPython 3.12): json.loads 4.5 µs against decode_json 2.5 µs;
a reused JSONEncoder 4.0 µs against encode_json 2.3 µs.

`loads_body` and `dumps_body` parse and write whole bodies (a request the rules rewrite, a
buffered answer): with orjson when it is installed, several times faster on a long request
(figures: docs/performance.md), and with the same results as the `json` module (see there).

`json_spellings` and `fewest_needles` serve the stream's idle fast path: raw event bytes are
searched for every spelling a tag's first character may have, to know without parsing that
nothing in them can change.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable
from typing import Any

from cot_proxy.think_config import ThinkConfig

try:
    import orjson
except ImportError:  # pragma: no cover - a requirement; the json module does the same, slower
    orjson = None  # type: ignore[assignment]

_DECODER = json.JSONDecoder()
# The C scanner behind decode(), called directly (see decode_json).
_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
# JSON's two-character escapes, by the character they stand for.
_SHORT_ESCAPES = {
    '"': b'\\"',
    "\\": b"\\\\",
    "/": b"\\/",
    "\b": b"\\b",
    "\f": b"\\f",
    "\n": b"\\n",
    "\r": b"\\r",
    "\t": b"\\t",
}


def decode_json(data: bytes) -> Any:
    """json.loads for UTF-8 bytes, minus its overhead on the common compact case."""
    text = data.decode("utf-8")
    try:
        obj, end = _SCAN_ONCE(text, 0)
    except StopIteration:  # leading whitespace or not JSON: let the full decoder decide
        return _DECODER.decode(text)
    return obj if end == len(text) else _DECODER.decode(text)


def _compact_encoder() -> Callable[[Any], str]:
    """`_ENCODER.encode` without rebuilding the C encoder on every call.

    No circular-reference check: the objects come from the JSON decoder.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return _ENCODER.encode

    def reject(obj: Any) -> Any:
        raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

    encode = make(None, reject, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda obj: "".join(encode(obj, 0))


_encode_compact = _compact_encoder()


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON; ASCII escapes for text UTF-8 cannot carry (lone surrogates)."""
    try:
        return _encode_compact(obj).encode("utf-8")
    except UnicodeEncodeError:
        return _ASCII_ENCODER.encode(obj).encode("ascii")


# orjson reads an integer beyond 64 bits as a float, silently; such a number has 19 digits or
# more in a row. Digits become b"0" and the rest b" ", so one C-speed search finds a run of 19
# (0.2 ms on a 200 KB body; a regex takes 8). NaN, Infinity and 1e400, which json reads as
# non-finite floats, orjson refuses: they take the json path below.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_RUN = 19
_LONG_NUMBER = b"0" * _RUN
# Every 9th byte first: a run of 19 digits holds two multiples of 9, so it leaves two digits side
# by side in that sample. Only where the sample has them is the body itself looked at (40 µs
# instead of 200 on a 200 KB body); past a few such places, the whole body is (dates and
# timestamps make them, and the whole search is no slower than before).
_STRIDE = 9
_PAIR = b"00"
_MAX_PLACES = 16
# Below this size the whole body is looked at at once: a small answer's timestamps, ids and token
# counts put many digit pairs in the sample (a 382-byte chat answer: 6.5 µs sampled, 0.75 whole).
_SAMPLED_FROM = 4096


def has_long_number(data: bytes) -> bool:
    """Whether `data` holds 19 or more ASCII digits in a row (an integer beyond 64 bits may)."""
    if len(data) < _SAMPLED_FROM:
        return _LONG_NUMBER in data.translate(_DIGITS_ONLY)
    sample = data[::_STRIDE].translate(_DIGITS_ONLY)
    at = sample.find(_PAIR)
    places = 0
    while at >= 0:
        places += 1
        if places > _MAX_PLACES:
            return _LONG_NUMBER in data.translate(_DIGITS_ONLY)
        # A run of 19 holding the bytes at at*9 and at*9 + 9 lies within this window.
        start = at * _STRIDE
        window = data[max(0, start - _STRIDE) : start + 2 * _STRIDE + 1]
        if _LONG_NUMBER in window.translate(_DIGITS_ONLY):
            return True
        at = sample.find(_PAIR, at + 1)
    return False


class _StdlibOnly(dict):  # type: ignore[type-arg]
    """A body json.loads gave non-finite floats: orjson would write them as null."""


class _StdlibOnlyList(list):  # type: ignore[type-arg]
    """The same, for a body that is a JSON array."""


def loads_body(data: bytes) -> Any:
    """json.loads of a whole body, the same result (or error) faster with orjson.

    orjson reads UTF-8 only and refuses what is not strict JSON (a BOM, UTF-16, lone
    surrogates, NaN, Infinity); json.loads decides those, as it did before orjson.
    """
    if orjson is not None and not has_long_number(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    non_finite = False

    def number(text: str) -> float:
        nonlocal non_finite
        value = float(text)
        non_finite = non_finite or not math.isfinite(value)
        return value

    def constant(name: str) -> float:
        nonlocal non_finite
        non_finite = True
        return float(name.replace("Infinity", "inf"))

    obj = json.loads(data, parse_float=number, parse_constant=constant)
    if non_finite and isinstance(obj, dict):
        return _StdlibOnly(obj)
    return _StdlibOnlyList(obj) if non_finite and isinstance(obj, list) else obj


def dumps_body(obj: Any) -> bytes:
    """Compact UTF-8 JSON of a body (`encode_json`), faster with orjson.

    Key order is kept. Numbers may be spelt differently (1e-07 as 1e-7), never valued
    differently: a body with integers beyond 64 bits, lone surrogates or (from `loads_body`)
    non-finite floats is written by the json module.
    """
    if orjson is not None and type(obj) not in (_StdlibOnly, _StdlibOnlyList):
        try:
            return orjson.dumps(obj)
        except TypeError:  # orjson.JSONEncodeError: big integers, surrogates
            pass
    return encode_json(obj)


def json_spellings(char: str) -> list[bytes]:
    """Every way `char` can appear in raw JSON: UTF-8, \\uXXXX in any hex case, short escape."""
    code = ord(char)
    # A non-BMP character is escaped as a surrogate pair; its first half is enough to spot it.
    unit = code if code < 0x10000 else 0xD800 + ((code - 0x10000) >> 10)
    hex_cases = itertools.product(
        *(sorted({digit.lower(), digit.upper()}) for digit in f"{unit:04x}")
    )
    spellings = [char.encode("utf-8", "surrogatepass")]
    spellings += [b"\\u" + "".join(digits).encode("ascii") for digits in hex_cases]
    if char in _SHORT_ESCAPES:
        spellings.append(_SHORT_ESCAPES[char])
    return spellings


def _common_prefix(items: list[bytes]) -> bytes:
    first, last = min(items), max(items)  # the sorted extremes bound the common prefix
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


def fewest_needles(needles: list[bytes]) -> tuple[bytes, ...]:
    """Fewer, shorter needles that still match wherever one of `needles` does (a cheaper scan).

    Case variants of one \\uXXXX escape shrink to their common prefix (b"\\u003" for "<");
    a needle containing another is dropped.
    """
    groups: dict[bytes, list[bytes]] = {}
    for needle in needles:
        key = needle.lower() if needle.startswith(b"\\u") else needle
        groups.setdefault(key, []).append(needle)
    shrunk = {_common_prefix(group) for group in groups.values()}
    kept = sorted(shrunk, key=len)
    return tuple(n for i, n in enumerate(kept) if not any(k in n for k in kept[:i]))


# The backslash every escaped spelling begins with (\\u003c, \\/): a one-byte needle.
BACKSLASH = 0x5C


def split_escaped(
    needles: tuple[bytes | int, ...],
) -> tuple[tuple[bytes | int, ...], tuple[bytes, ...]]:
    """(the needles, the escaped ones): search the second only where `BACKSLASH in raw`.

    `bytes in bytes` has no memchr for a needle's first byte: on a 12 KB chunk of chat events,
    b"\\u003" takes 6.8 µs, `BACKSLASH in` 0.1 µs, and most chunks hold no escape at all.
    """
    escaped = tuple(n for n in needles if isinstance(n, bytes) and n[0] == BACKSLASH)
    return tuple(n for n in needles if n not in escaped), escaped


@functools.lru_cache(maxsize=256)
def needles_for(config: ThinkConfig, keys: tuple[bytes, ...] = ()) -> tuple[bytes | int, ...]:
    """A stream's fast-path needles under `config`: a raw event holding none of them cannot
    change while its filters are idle. Every JSON spelling of a character a think or wrapper
    tag begins with (none in inline mode, which leaves the model's text alone), and `keys`
    (the format's own: quoted field names, event types), shrunk by `fewest_needles`.

    A one-byte needle is an int: `int in bytes` is a bare memchr, `bytes in bytes` costs a
    buffer export and a general search (about 15 times as long on a chunk, CPython 3.12).
    Computed once per config and keys.
    """
    chars = () if config.mode == "inline" else sorted(config.tag_first_chars)
    needles = [spelling for char in chars for spelling in json_spellings(char)]
    needles += keys
    return tuple(n[0] if len(n) == 1 else n for n in fewest_needles(needles))
