"""Incremental content decoding, for upstreams that compress a stream although we asked for identity.

Pure logic, no mitmproxy import (brotli comes with mitmproxy's dependencies).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from collections.abc import Iterable

import brotli


class _ZlibDecoder:
    def __init__(self, wbits: int) -> None:
        self._decompressor = zlib.decompressobj(wbits)

    def decode(self, data: bytes) -> bytes:
        return self._decompressor.decompress(data)

    def flush(self) -> bytes:
        return self._decompressor.flush()


class _BrotliDecoder:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes) -> bytes:
        decoded: bytes = self._decompressor.process(data)
        return decoded

    def flush(self) -> bytes:
        return b""


_DECODERS: dict[str, Callable[[], _ZlibDecoder | _BrotliDecoder]] = {
    "gzip": lambda: _ZlibDecoder(zlib.MAX_WBITS | 16),
    "x-gzip": lambda: _ZlibDecoder(zlib.MAX_WBITS | 16),
    # "deflate" is zlib-wrapped per RFC 9110; MAX_WBITS | 32 also accepts the raw variant some servers send.
    "deflate": lambda: _ZlibDecoder(zlib.MAX_WBITS | 32),
    "br": _BrotliDecoder,
}


def can_decode(content_encoding: str) -> bool:
    return content_encoding.strip().lower() in _DECODERS


StreamCallable = Callable[[bytes], bytes | Iterable[bytes]]


class DecodingStream:
    """Wraps a mitmproxy stream callable so that it sees decoded bytes.

    The caller removes Content-Encoding from the response, since the client then gets plain bytes.
    """

    def __init__(self, content_encoding: str, inner: StreamCallable) -> None:
        self._decoder = _DECODERS[content_encoding.strip().lower()]()
        self._inner = inner

    def __call__(self, data: bytes) -> list[bytes]:
        if data:
            decoded = self._decoder.decode(data)
            # Never hand b"" on as a data chunk: to the inner callable it means end of stream.
            return _as_list(self._inner(decoded)) if decoded else []
        tail = self._decoder.flush()
        out = _as_list(self._inner(tail)) if tail else []
        return out + _as_list(self._inner(b""))


def _as_list(result: bytes | Iterable[bytes]) -> list[bytes]:
    if isinstance(result, bytes):
        return [result] if result else []
    return [chunk for chunk in result if chunk]
