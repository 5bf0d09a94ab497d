"""A recording relay between the proxy and llama-server, on 127.0.0.1.

The proxy's target is the relay; the relay passes each request to llama-server and each answer back
byte for byte, as the reads come, and keeps a copy. So a test can compare what the client got with
what the server sent for the very same request (ids, `timings` and `created` differ between two
requests), and record.py saves the server's bytes for the scripted replays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from ..e2e.upstream import Received
from ..e2e.upstream import Reply
from ..e2e.upstream import Upstream


@dataclasses.dataclass
class Exchange:
    path: str
    request: bytes
    response: bytes = b""  # the server's raw answer: status line, headers, body as sent (chunked)

    def head_and_body(self) -> tuple[bytes, bytes]:
        head, _, raw = self.response.partition(b"\r\n\r\n")
        if b"transfer-encoding: chunked" in head.lower():
            return head, dechunk(raw)
        return head, raw


def dechunk(raw: bytes) -> bytes:
    body = b""
    while raw:
        size_line, _, raw = raw.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += raw[:size]
        raw = raw[size + 2 :]
    return body


class Relay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.exchanges: list[Exchange] = []
        self.upstream = Upstream()
        self.upstream.handler = self._forward

    def start(self) -> Relay:
        self.upstream.start()
        return self

    def stop(self) -> None:
        self.upstream.stop()

    @property
    def url(self) -> str:
        return self.upstream.url

    def last(self) -> Exchange:
        return self.exchanges[-1]

    def last_json(self) -> Any:
        """The body of the last buffered answer, parsed."""
        return json.loads(self.last().head_and_body()[1])

    async def _forward(self, req: Received, reply: Reply) -> None:
        exchange = Exchange(req.path, req.body)
        self.exchanges.append(exchange)
        reader, writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        headers = {k: v for k, v in req.headers.items() if k not in ("connection", "host")}
        headers["host"] = f"127.0.0.1:{self.target_port}"
        headers["content-length"] = str(len(req.body))
        headers["connection"] = "close"
        head = f"{req.method} {req.path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        writer.write(head.encode("latin-1") + b"\r\n" + req.body)
        await writer.drain()
        try:
            while data := await reader.read(65536):
                exchange.response += data
                await reply.raw(data)
        finally:
            writer.close()
        # The server said `Connection: close` to us; end the proxy's connection the same way.
        reply.writer.close()
