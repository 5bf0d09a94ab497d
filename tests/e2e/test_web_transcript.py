"""Under real mitmweb, the transcript of an event format's answer (what the `cot-proxy` content view
shows) holds the reasoning the upstream split off and strip mode dropped, as think text: for
Responses reasoning items, Anthropic thinking blocks and Ollama's `thinking`, streamed and
buffered. The official clients get the answer without it.

The upstream's bytes are the fixtures' (fixtures_responses.py, messages_upstream.py,
ollama_fixtures.py say which server's shape each copies and where from).
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import io
import json
import re
import time
from collections.abc import Callable
from typing import Any

import anthropic
import ollama
import openai
import pytest
from mitmproxy import io as mitmproxy_io
from mitmproxy.http import HTTPFlow

from cot_proxy.transcript import render

from . import fixtures_responses as rsp
from . import messages_upstream as msg
from . import ollama_fixtures as oll
from .conftest import free_port
from .test_core import KEY
from .upstream import Received
from .upstream import Reply

REASONING = ["Let me ", "think."]
REASONED = "".join(REASONING)
ANSWER = "Hi!"
SIGNED = {"type": "thinking", "thinking": REASONED, "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}


@dataclasses.dataclass(frozen=True)
class Case:
    path: str  # the upstream path (the proxy's TARGET_BASE_URL is the upstream's root)
    stream: tuple[str, bytes]  # (content type, body) of the streamed answer
    body: bytes  # the buffered answer (application/json)
    ask: Callable[[str, bool], str]  # (proxy URL, stream) → the answer text the client got
    channels: list[tuple[int, str, str]]  # (channel, answer, think) of the transcript


def ask_responses(url: str, stream: bool) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=20)
    if not stream:
        return client.responses.create(model="m", input="Hi").output_text
    events = list(client.responses.create(model="m", input="Hi", stream=True))
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def ask_messages(url: str, stream: bool) -> str:
    client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0, timeout=20)
    ask: dict[str, Any] = {"model": "m", "max_tokens": 64}
    ask["messages"] = [{"role": "user", "content": "Hi"}]
    if not stream:
        message = client.messages.create(**ask)
        assert [b.type for b in message.content] == ["text"]
        return "".join(b.text for b in message.content if b.type == "text")
    events = list(client.messages.create(**ask, stream=True))
    assert not any(e.type == "content_block_start" and e.index for e in events)  # one block
    return "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )


def ask_ollama(endpoint: str) -> Callable[[str, bool], str]:
    def ask(url: str, stream: bool) -> str:
        client = ollama.Client(host=url, timeout=20)
        if endpoint == "chat":
            messages = [{"role": "user", "content": "Hi"}]
            chat = functools.partial(client.chat, model=oll.MODEL, messages=messages)
            said = list(chat(stream=True)) if stream else [chat(stream=False)]
            assert not any(line.message.thinking for line in said)
            return "".join(line.message.content or "" for line in said)
        generate = functools.partial(client.generate, model=oll.MODEL, prompt="Hi")
        lines = list(generate(stream=True)) if stream else [generate(stream=False)]
        assert not any(line.thinking for line in lines)
        return "".join(line.response or "" for line in lines)

    return ask


CASES = {
    # vLLM's Responses stream and body: a reasoning item before the message.
    "responses": Case(
        "/v1/responses",
        ("text/event-stream", rsp.vllm_sse(rsp.vllm_stream(REASONING, [ANSWER]))),
        json.dumps(rsp.vllm_body(REASONED, ANSWER)).encode(),
        ask_responses,
        [(0, "", REASONED), (1, ANSWER, "")],
    ),
    # Anthropic's shapes: a signed thinking block (0), a redacted one (1), the text (2).
    "messages": Case(
        "/v1/messages",
        ("text/event-stream", msg.sse(msg.anthropic_thinking(REASONING, [ANSWER]))),
        json.dumps(msg.vllm_body([SIGNED, REDACTED, {"type": "text", "text": ANSWER}])).encode(),
        ask_messages,
        [(0, "", REASONED), (2, ANSWER, "")],
    ),
    **{
        f"ollama_{endpoint}": Case(
            f"/api/{endpoint}",
            (
                "application/x-ndjson",
                b"".join(oll.ndjson(oll.stream_lines(endpoint, [ANSWER], thinking=REASONING))),
            ),
            oll.go_json(oll.line_of(endpoint, ANSWER, thinking=REASONED, done_reason="stop")),
            ask_ollama(endpoint),
            [(0, ANSWER, REASONED)],
        )
        for endpoint in ("chat", "generate")
    },
}


@dataclasses.dataclass
class Web:
    url: str
    port: int
    token: str


@pytest.fixture(scope="module")
def web(start_proxy, upstream) -> Web:
    port = free_port()
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"{upstream.url}/", "MITM_TOOL": "mitmweb"},
        args=["--web-port", str(port), "--set", "web_open_browser=false"],
    )
    token = re.search(r"token=(\w+)", proxy.wait_log("token=", timeout=10))
    assert token, proxy.log()
    return Web(proxy.url, port, token[1])


def serve(upstream, case: Case) -> None:
    async def handler(req: Received, reply: Reply) -> None:
        # Ollama streams unless told not to; the others only when asked.
        if not req.json().get("stream", req.path.startswith("/api/")):
            await reply.body(200, case.body, {"Content-Type": "application/json"})
            return
        content_type, data = case.stream
        await reply.head(200, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        for piece in (data[i : i + 50] for i in range(0, len(data), 50)):
            await reply.chunk(piece)
        await reply.end_chunks()

    upstream.reset(handler)


def dumped_notes(web: Web, path: str, count: int) -> list[dict[str, Any]]:
    """The proxy's notes of the flows to `path`, from mitmweb's File → Save (/flows/dump), once
    `count` of them carry a transcript."""
    deadline = time.monotonic() + 10
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        connection.request("GET", f"/flows/dump?token={web.token}")
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == 200, body[:500]
        flows = list(mitmproxy_io.FlowReader(io.BytesIO(body)).stream())
        notes = [
            f.metadata["cot_proxy"]
            for f in flows
            if isinstance(f, HTTPFlow)
            and f.request.path == path
            and "transcript" in f.metadata.get("cot_proxy", {})
        ]
        if len(notes) >= count or time.monotonic() > deadline:
            return notes
        time.sleep(0.2)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_transcript_holds_the_upstream_reasoning_strip_dropped(web, upstream, name) -> None:
    case = CASES[name]
    serve(upstream, case)
    for stream in (True, False):
        assert case.ask(web.url, stream) == ANSWER
    assert [r.path for r in upstream.received] == [case.path, case.path]
    notes = dumped_notes(web, case.path, 2)
    assert len(notes) == 2, notes
    for note in notes:
        summary = note["transcript"]
        channels = [(c["channel"], c["answer"], c["think"]) for c in summary["channels"]]
        assert channels == case.channels, note
        assert f"think text removed ({len(REASONED)} chars)" in render(summary)
        assert note["think_chars"] == 0  # upstream reasoning is not counted, as for chat
