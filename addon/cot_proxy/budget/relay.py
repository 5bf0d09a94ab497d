"""The budget relay: a small HTTP/1.1 server on 127.0.0.1 that answers the flows whose budget
the proxy holds (`cot_proxy.parts.think_budget` routes them here).

No mitmproxy import: asyncio and h11 (which mitmproxy ships). Why a relay: mitmproxy's stream
callable is synchronous and cannot start a second request to the target; here one coroutine
owns both upstream requests and writes one answer back to mitmproxy, whose hooks (the think
filter, the log) then treat it as the target's answer.

Each flow is registered with a random token that the part sends in `TOKEN_HEADER`; the relay
takes (and so forgets) the registration, drops the header, and sends the request, always
streamed, to the real target (`cot_proxy.tls.open_connection`). At the budget it closes that
connection, so the server stops generating, and sends the continuation.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
import ssl
from collections.abc import Callable
from typing import Any

import h11

from cot_proxy.apierror import error_body
from cot_proxy.apierror import error_body_for
from cot_proxy.budget.chat import ChatSession
from cot_proxy.budget.completions import CompletionsSession
from cot_proxy.budget.continuation import DEFAULT_TAGS
from cot_proxy.budget.continuation import continuation_body
from cot_proxy.budget.messages import MessagesSession
from cot_proxy.budget.ollama import OllamaSession
from cot_proxy.budget.responses import ResponsesSession
from cot_proxy.formats.registry import format_of
from cot_proxy.routing import Target
from cot_proxy.tls import open_connection

logger = logging.getLogger(__name__)

TOKEN_HEADER = "x-cot-proxy-relay"
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te",
                  "upgrade", "proxy-connection", "trailer", TOKEN_HEADER})  # fmt: skip
Session = ChatSession | OllamaSession | MessagesSession | ResponsesSession | CompletionsSession


@dataclasses.dataclass
class Job:
    """One budgeted request: where it really goes and how its budget is held."""

    target: Target
    ssl_context: ssl.SSLContext | None
    tokens: int
    message: str
    server: str | None
    endpoint: str
    tags: tuple[str, str] | None
    implicit: bool
    report: Callable[[str, int], None]  # (outcome, reasoning tokens counted)


class Relay:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def register(self, job: Job) -> str:
        token = secrets.token_urlsafe(18)
        self.jobs[token] = job
        return token

    def forget(self, token: str) -> None:
        self.jobs.pop(token, None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, path, headers, body = await _read_request(reader)
            job = self.jobs.pop(dict(headers).get(TOKEN_HEADER, ""), None)
            if job is None:
                error = error_body("unknown relay token", "proxy_error", "relay_token")
                await _answer(writer, 502, error)
                return
            await self._relay(job, method, path, headers, body, writer)
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError) as e:
            logger.debug("think budget relay: %s", e)
        except Exception:
            logger.exception("think budget relay failed")
        finally:
            writer.close()

    async def _relay(
        self,
        job: Job,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        raw: bytes,
        client: asyncio.StreamWriter,
    ) -> None:
        body = json.loads(raw)
        if job.endpoint == "ollama_chat":
            streamed = body.get("stream") is not False  # Ollama streams unless told not to
        else:
            streamed = body.get("stream") is True
        sent = dict(body, stream=True)
        if not streamed and job.endpoint in ("chat", "completions"):
            sent["stream_options"] = {"include_usage": True}
        session: Session
        if job.endpoint == "ollama_chat":
            session = OllamaSession(job.tokens, streamed=streamed)
        elif job.endpoint == "messages":
            session = MessagesSession(job.tokens, streamed=streamed)
        elif job.endpoint == "responses":
            session = ResponsesSession(
                job.tokens, streamed=streamed, tags=job.tags, implicit=job.implicit
            )
        elif job.endpoint == "completions":
            tags = job.tags or DEFAULT_TAGS  # the thought is inline; open when the prompt opened it
            inside = job.implicit or str(body.get("prompt") or "").rstrip().endswith(tags[0])
            session = CompletionsSession(job.tokens, streamed=streamed, tags=tags, inside=inside)
        else:
            session = ChatSession(
                job.tokens, streamed=streamed, tags=job.tags, implicit=job.implicit
            )
        kept = [(k, v) for k, v in headers if k not in _HOP]
        answer = _Answer(client, streamed, session)
        try:
            status = await self._upstream(job, method, path, kept, sent, answer, session, True)
        except OSError as e:  # connect, DNS, TLS: answered as mitmproxy's own 502 would be
            message = f"Cannot get an answer from the target {job.target.origin}: {e}"
            fmt = format_of(job.endpoint)
            error = error_body_for(fmt, message, "upstream_error", "target_unreachable")
            await answer.whole(502, error, "application/json")
            return
        if status is None or not session.forced:
            if status is not None:
                await answer.end(session.finish())
                job.report("within", session.counted)
            return
        job.report("forced", session.meter.used)
        session.restart()
        reasoning = "".join(session.reasoning)
        again = continuation_body(sent, job.server, job.endpoint, reasoning, job.message, job.tags)
        try:
            if await self._upstream(job, method, path, kept, again, answer, session, False) is None:
                logger.warning("think budget: the target refused the continuation request")
        except OSError as e:
            logger.warning("think budget: the continuation request failed: %s", e)
        await answer.end(session.finish())

    async def _upstream(
        self,
        job: Job,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: dict[str, Any],
        answer: _Answer,
        session: Session,
        first: bool,
    ) -> int | None:
        """Send one request to the target and feed its answer to the session (its first or
        second answer) until it ends or the budget forces its end; the status (None: an error
        answer went to the client as it came)."""
        take = session.first if first else session.second
        data = json.dumps(body, ensure_ascii=False).encode()
        reader, writer = await open_connection(job.target, job.ssl_context)
        try:
            conn = h11.Connection(h11.CLIENT)
            head = [("host", job.target.host_header), *headers,
                    ("content-length", str(len(data))), ("connection", "close")]  # fmt: skip
            writer.write(conn.send(h11.Request(method=method, target=path, headers=head)) or b"")
            writer.write(conn.send(h11.Data(data=data)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            response: h11.Response | None = None
            whole: bytes | None = None  # an answer passed on as it came, not a stream
            kind = ""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                    continue
                if isinstance(event, h11.Response):
                    response = event
                    kind = _header(response, "content-type")
                    if response.status_code != 200 or session.content_type not in kind:
                        whole = b""  # an error, or a server that does not stream
                elif isinstance(event, h11.Data):
                    if whole is not None:
                        whole += bytes(event.data)
                        continue
                    await answer.write(take(bytes(event.data)))
                    if first and session.forced:
                        return 200  # closed below: the server stops generating
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
            assert response is not None
            if whole is not None:
                await answer.whole(response.status_code, whole, kind)
                return None
            return 200
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class _Answer:
    """The one answer to mitmproxy: streamed as chunks, or buffered with its length."""

    def __init__(self, writer: asyncio.StreamWriter, streamed: bool, session: Session) -> None:
        self.writer = writer
        self.streamed = streamed
        self.kind = session.content_type if streamed else "application/json"
        self.started = False
        self.closed = False  # a whole answer went out

    async def _head(self) -> None:
        if not self.started:
            self.started = True
            self.writer.write(
                f"HTTP/1.1 200 OK\r\ncontent-type: {self.kind}\r\ntransfer-encoding: chunked\r\n"
                "connection: close\r\n\r\n".encode()
            )

    async def write(self, data: bytes) -> None:
        if data:
            await self._head()
            self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await self.writer.drain()

    async def end(self, data: bytes) -> None:
        if self.closed:
            return
        await self.write(data)
        await self._head()
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    async def whole(self, status: int, body: bytes, kind: str | None) -> None:
        if self.started:  # the continuation failed: the answer so far ends as it is
            return
        await _answer(self.writer, status, body, kind or "application/json")
        self.started = self.closed = True


def _header(response: h11.Response, name: str) -> str:
    return next((v.decode("latin-1") for k, v in response.headers if k == name.encode()), "")


async def _answer(
    writer: asyncio.StreamWriter, status: int, body: bytes, kind: str = "application/json"
) -> None:
    writer.write(
        f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, list[tuple[str, str]], bytes]:
    conn = h11.Connection(h11.SERVER)
    request: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    assert request is not None
    headers = [(k.decode().lower(), v.decode()) for k, v in request.headers]
    return request.method.decode(), request.target.decode(), headers, body
