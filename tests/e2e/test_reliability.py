"""Faults end to end: garbage from the upstream, many concurrent streams."""

from __future__ import annotations

import asyncio
import subprocess

import openai
import pytest

from .upstream import Received
from .upstream import Reply
from .upstream import chat_chunk
from .upstream import sse_event

GARBAGE = [
    b"data: {not json <think> at all\n\n",
    b"data: \xff\xfe\xc3(\x80 invalid utf-8 <think>\n\n",
    b"event: ping\nid: 7\n\n",
    b": comment only\n\n",
    b'data: {"choices": "not a list"}\n\n',
    b'data: {"choices": [{"index": "zero", "delta": {"content": 5}}]}\n\n',
    b'data: ["an", "array"]\n\n',
    b"retry: 1000\n\n",
    b'data: {"choices":[{"index":0,"delta":{"content":"last, with no blank line"}}]}',
]


@pytest.mark.parametrize("mode", ["strip", "reasoning"])
def test_garbage_passes_through_unchanged(start_proxy, upstream, mode):
    raw = b"".join(GARBAGE)

    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse([raw[i : i + 11] for i in range(0, len(raw), 11)])

    upstream.reset(handler)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "THINK_MODE": mode})
    # bytes, not text: decoding must not hide anything
    result = subprocess.run(
        [
            "curl",
            "-sSN",
            "--max-time",
            "20",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"model":"m","stream":true}',
            f"{proxy.url}/v1/chat/completions",
        ],
        capture_output=True,
        timeout=30,
    )
    assert result.stdout == raw, result.stderr
    assert "Traceback" not in proxy.log()


def test_concurrent_streams_exact_and_error_free(proxy, upstream):
    """200 concurrent streaming requests through one proxy process: every answer exact, no error."""
    streams, tokens = 200, 20

    async def handler(req: Received, reply: Reply) -> None:
        who = req.json()["user"]
        events = [
            sse_event(chat_chunk("", role="assistant")),
            sse_event(chat_chunk("<think>secret</think>")),
        ]
        events += [sse_event(chat_chunk(f"{who}-{i} ")) for i in range(tokens)]
        events.append(sse_event("[DONE]"))
        await reply.sse(events, delay=0.01)

    upstream.reset(handler)

    async def one(client: openai.AsyncOpenAI, who: int) -> str:
        text = ""
        stream = await client.chat.completions.create(
            model="m", messages=[], stream=True, user=str(who)
        )
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
        return text

    async def run() -> list[str | BaseException]:
        async with openai.AsyncOpenAI(
            base_url=f"{proxy.url}/v1", api_key="k", max_retries=0, timeout=60
        ) as client:
            tasks = [one(client, who) for who in range(streams)]
            return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 90)

    results = asyncio.run(run())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    for who, text in enumerate(results):
        assert text == "".join(f"{who}-{i} " for i in range(tokens))
