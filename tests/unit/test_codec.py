import gzip
import zlib

import brotli
import pytest

from cot_proxy.codec import DecodingStream
from cot_proxy.codec import can_decode

PAYLOAD = ('data: {"x": "héllo <think>"}\n\n' * 50).encode()

ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
}


class Recorder:
    def __init__(self):
        self.calls: list[bytes] = []

    def __call__(self, data: bytes) -> bytes:
        self.calls.append(data)
        return data


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_decoding_stream_any_chunking(encoding, chunk_size):
    wire = ENCODERS[encoding](PAYLOAD)
    inner = Recorder()
    stream = DecodingStream(encoding, inner)
    out = []
    for i in range(0, len(wire), chunk_size):
        out += stream(wire[i : i + chunk_size])
    out += stream(b"")
    assert b"".join(out) == PAYLOAD
    # the inner callable saw b"" exactly once, at the end
    assert inner.calls[-1] == b""
    assert b"" not in inner.calls[:-1]
    assert b"" not in out


def test_can_decode():
    assert can_decode("gzip") and can_decode(" BR ") and can_decode("deflate")
    assert not can_decode("zstd") and not can_decode("identity")
