"""One HTTP/1.1 client connection of the load generator (bench/load.py), on asyncio: it sends
a request built from a `Template` and reads the answer back incrementally (chunked, SSE and
NDJSON), recording when the first answer character arrives.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

from wire import body_text
from wire import event_text

if TYPE_CHECKING:
    from load import Template

_loads = json.loads
_perf = time.perf_counter


class ResponseError(Exception):
    pass


# parser states
_IDLE, _HEAD, _LENGTH, _SIZE, _DATA, _CRLF, _TRAILER = range(7)


class Client(asyncio.Protocol):
    """One connection; one request in flight at a time."""

    chunk_left: int  # bytes left of the current chunk of a chunked body

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self.buf = bytearray()
        self.state = _IDLE
        self.future: asyncio.Future[None] | None = None
        self.abandoned = False

    # -- protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("connection closed by the server")
        if self.future is not None and not self.future.done():
            if self.state == _LENGTH and self.length < 0:  # body delimited by the close
                self._complete()
            else:
                self.future.set_exception(ResponseError(f"connection lost: {self.lost!r}"))

    def data_received(self, data: bytes) -> None:
        now = _perf()
        if self.state == _IDLE:
            if self.abandoned:  # the rest of a stream we hung up on
                return
            self.lost = ResponseError("unexpected data between responses")
            assert self.transport is not None
            self.transport.close()
            return
        self.buf += data
        try:
            self._process(now)
        except Exception as exc:  # malformed response
            if self.future is not None and not self.future.done():
                self.future.set_exception(ResponseError(f"bad response: {exc!r}"))
            self.state = _IDLE
            assert self.transport is not None
            self.transport.close()

    # -- request -----------------------------------------------------------------------------
    def send(self, template: Template) -> asyncio.Future[None]:
        assert self.transport is not None
        if self.lost is not None:
            raise ResponseError(f"connection unusable: {self.lost!r}")
        self.future = asyncio.get_running_loop().create_future()
        self.template = template
        self.fmt = template.fmt
        self.chat = template.fmt == "chat"
        self.state = _HEAD
        self.status = 0
        self.framing = b""  # b"\n\n" for SSE, b"\n" for NDJSON, b"" for a whole body
        self.done_seen = False
        self.body = bytearray()
        self.pieces: list[str] = []
        self.content_len = 0
        # None: decided by the first text piece (a target that may or may not strip)
        self.prefix_len: int | None = None if template.either is not None else template.prefix_len
        self.ttfa_at: float | None = None
        self.events = 0
        self.length = -1
        self.buf.clear()
        self.sent_at = _perf()
        self.transport.write(template.request)
        return self.future

    def content(self) -> str:
        if self.framing:
            return "".join(self.pieces)
        obj = _loads(self.body)
        if self.status != 200:
            return obj["error"]["message"]
        return body_text(self.fmt, obj)

    # -- parsing -----------------------------------------------------------------------------
    def _process(self, now: float) -> None:
        buf = self.buf
        pos = 0
        size = len(buf)
        while pos < size or self.state == _TRAILER:
            if self.abandoned:  # we hung up: the rest is of no interest
                buf.clear()
                return
            state = self.state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    break
                self._head(bytes(buf[pos:end]))
                pos = end + 4
            elif state == _DATA:
                take = min(size - pos, self.chunk_left)
                self._body(bytes(buf[pos : pos + take]), now)
                pos += take
                self.chunk_left -= take
                if self.chunk_left:
                    break
                self.state = _CRLF
            elif state == _CRLF:
                if size - pos < 2:
                    break
                pos += 2
                self.state = _SIZE
            elif state == _SIZE:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    break
                chunk = int(bytes(buf[pos:end]).split(b";", 1)[0], 16)
                pos = end + 2
                if chunk:
                    self.chunk_left = chunk
                    self.state = _DATA
                else:
                    self.state = _TRAILER
            elif state == _TRAILER:
                if size - pos < 2:
                    break
                if buf[pos : pos + 2] == b"\r\n":
                    pos += 2
                else:
                    end = buf.find(b"\r\n\r\n", pos)
                    if end < 0:
                        break
                    pos = end + 4
                self._complete()
                break
            elif state == _LENGTH:
                take = size - pos if self.length < 0 else min(size - pos, self.length)
                self._body(bytes(buf[pos : pos + take]), now)
                pos += take
                if self.length >= 0:
                    self.length -= take
                    if not self.length:
                        self._complete()
                break
            else:  # _IDLE: leftover bytes after a complete response
                raise ResponseError("data after the end of the response")
        del buf[:pos]

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"content-type":
                kind = value.strip().lower()
                if kind.startswith(b"text/event-stream"):
                    self.framing = b"\n\n"
                elif kind.startswith(b"application/x-ndjson"):
                    self.framing = b"\n"
        if chunked:
            self.state = _SIZE
        else:
            self.state = _LENGTH
            if self.length == 0:
                self._complete()

    def _body(self, data: bytes, now: float) -> None:
        framing = self.framing
        body = self.body
        body += data
        if not framing:
            return
        start = 0
        step = len(framing)
        while True:
            end = body.find(framing, start)
            if end < 0:
                break
            self._event(bytes(body[start:end]), now)
            start = end + step
            if self.abandoned:
                return
        if start:
            del body[:start]

    def _event(self, raw: bytes, now: float) -> None:
        self.events += 1
        if self.framing == b"\n":
            if raw.strip():
                self._text(*event_text(self.fmt, _loads(raw)), now)
        else:
            for line in raw.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                payload = line[6:] if line[5:6] == b" " else line[5:]
                if payload == b"[DONE]":
                    self.done_seen = True
                    continue
                obj = _loads(payload)
                if self.chat:  # the common case, inline
                    for choice in obj.get("choices") or ():
                        delta = choice.get("delta")
                        if delta and delta.get("content"):
                            self._text(delta["content"], False, now)
                else:
                    self._text(*event_text(self.fmt, obj), now)
        limit = self.template.disconnect_after
        if limit and self.events >= limit:
            self.abandoned = True  # hang up mid-stream, as a client that gave up would
            assert self.transport is not None
            self.transport.abort()
            self._complete()

    def _text(self, text: str | None, done: bool, now: float) -> None:
        if done:
            self.done_seen = True
        if not text:
            return
        if self.prefix_len is None:  # the first piece tells whether the think block is there
            assert self.template.either is not None
            passed = text.startswith("<") and self.template.either.startswith(text)
            self.prefix_len = (
                len(self.template.either) - len(self.template.expected) if passed else 0
            )
        self.pieces.append(text)
        self.content_len += len(text)
        if self.ttfa_at is None and self.content_len > self.prefix_len:
            self.ttfa_at = now

    def _complete(self) -> None:
        self.state = _IDLE
        if self.future is not None and not self.future.done():
            self.future.set_result(None)
