"""One metadata request to the target and its JSON answer, without blocking the event loop.

Pure asyncio, no mitmproxy import (like cot_proxy.probe). HTTP/1.1 with `Connection: close`:
the body ends at the close, or at Content-Length, and a chunked one is unchunked. A body over
`MAX_BODY` bytes is cut off (and its JSON then fails to parse).
"""

from __future__ import annotations

import dataclasses
import json
import ssl
from collections.abc import Mapping
from typing import Any

from cot_proxy.routing import Target
from cot_proxy.tls import open_connection

MAX_BODY = 4 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


async def request(
    target: Target,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Answer:
    """Send one request to the target (no deadline here: the caller sets it); raise OSError
    (ssl.SSLError included) or ValueError when there is no HTTP answer."""
    reader, writer = await open_connection(target, ssl_context)
    try:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {target.host_header}",
            "User-Agent: cot-proxy-detect",
            "Accept: application/json",
            "Accept-Encoding: identity",
            "Connection: close",
        ]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        await writer.drain()
        raw = await reader.read(MAX_BODY)
        while len(raw) < MAX_BODY and (more := await reader.read(MAX_BODY - len(raw))):
            raw += more
    finally:
        writer.close()
    return parse_answer(raw)


def parse_answer(raw: bytes) -> Answer:
    """Status and body of a whole HTTP/1.1 response; ValueError when it is none."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/"):
        raise ValueError("no HTTP answer")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Answer(status, unchunk(rest))
    length = headers.get("content-length")
    return Answer(status, rest[: int(length)] if length and length.isdigit() else rest)


def unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)
