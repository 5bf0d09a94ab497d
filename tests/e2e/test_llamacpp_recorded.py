"""llama-server's own recorded bytes (tests/fixtures/llamacpp, see its README) replayed through the
proxy by the scripted upstream: the cases the conformance suite found against the real server,
covered where llama-server is not built. Streams go out one server event per network chunk, as
llama-server writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest

from .test_core import KEY
from .upstream import Received
from .upstream import Reply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamacpp"


def replay(upstream, name: str, stream: bool) -> None:
    if stream:
        data = (FIXTURES / f"{name}.sse").read_bytes()
        chunks = [event + b"\n\n" for event in data.split(b"\n\n") if event.strip()]

        async def handler(req: Received, reply: Reply) -> None:
            await reply.sse(chunks)
    else:
        body = (FIXTURES / f"{name}.json").read_bytes()

        async def handler(req: Received, reply: Reply) -> None:
            await reply.body(200, body, {"Content-Type": "application/json"})

    upstream.reset(handler)


def client(proxy, mode: str) -> openai.OpenAI:
    headers = {"X-Think-Mode": mode}
    return openai.OpenAI(
        base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20, default_headers=headers
    )


def chat(proxy, upstream, name: str, mode: str, stream: bool) -> tuple[str | None, str]:
    """(reasoning_content, content) of the replayed answer; streamed, the deltas joined."""
    replay(upstream, name, stream)
    api = client(proxy, mode).chat.completions
    messages: Any = [{"role": "user", "content": "Hi"}]
    if not stream:
        message = api.create(model="tiny-qwen3", messages=messages).choices[0].message
        return (message.model_extra or {}).get("reasoning_content"), message.content or ""
    thoughts: list[str] = []
    text: list[str] = []
    for chunk in api.create(model="tiny-qwen3", messages=messages, stream=True):
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            thoughts.append((choice.delta.model_extra or {}).get("reasoning_content") or "")
    return "".join(thoughts) or None, "".join(text)


STREAMED = pytest.mark.parametrize("stream", [False, True], ids=["buffered", "streamed"])


@STREAMED
def test_responses_strip_sends_no_think_text(proxy, upstream, stream: bool) -> None:
    """llama-server's Responses events have no output_index/content_index/sequence_number: the
    think text must still not reach a strip client, and the stream must agree with the final
    response."""
    replay(upstream, "responses_think", stream)
    api = client(proxy, "strip").responses
    if not stream:
        assert api.create(model="tiny-qwen3", input="Hi").output_text == "visible"
        return
    events = list(api.create(model="tiny-qwen3", input="Hi", stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "visible"
    for event in events:
        assert "hidden" not in event.model_dump_json(), event
    completed = next(e for e in events if e.type == "response.completed")
    assert completed.response.output_text == "visible"


def test_responses_stream_reasoning_mode_sends_reasoning(proxy, upstream) -> None:
    replay(upstream, "responses_think", True)
    events = list(
        client(proxy, "reasoning").responses.create(model="tiny-qwen3", input="Hi", stream=True)
    )
    reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    answer = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert (reasoning, answer) == ("hidden", "visible")


@STREAMED
def test_tool_call_marker_in_a_block_that_closes_later(proxy, upstream, stream: bool) -> None:
    """`<think>plan <tool_call> x </tool_call> more</think>answer`: all of the block is reasoning
    (llama.cpp, vLLM's qwen3 parser); the marker ends a block only when no end tag follows."""
    name = "chat_marker_in_closed_block"
    assert chat(proxy, upstream, name, "strip", stream) == (None, "answer")
    reasoning, content = chat(proxy, upstream, name, "reasoning", stream)
    assert content == "answer"
    assert (
        reasoning is not None
        and reasoning.split() == "plan <tool_call> x </tool_call> more".split()
    )


@STREAMED
def test_tool_call_marker_in_a_block_that_never_closes(proxy, upstream, stream: bool) -> None:
    """The case the marker is for: Qwen3 opening a tool call inside an unclosed block."""
    reasoning, content = chat(proxy, upstream, "chat_marker_in_unclosed_block", "reasoning", stream)
    assert reasoning is not None and reasoning.strip() == "plan"
    assert content.startswith("<tool_call>") and content.endswith("</tool_call>")


@STREAMED
def test_several_blocks_keep_words_apart(proxy, upstream, stream: bool) -> None:
    """`<think>one</think>a <think>two</think>b`: the reasoning of the blocks is not `onetwo`."""
    reasoning, content = chat(proxy, upstream, "chat_several_blocks", "reasoning", stream)
    assert content == "a b"
    assert reasoning is not None and reasoning.split() == ["one", "two"]


@STREAMED
def test_whitespace_only_reasoning_is_no_reasoning(proxy, upstream, stream: bool) -> None:
    """Qwen3's thinking-off block `<think>\\n\\n</think>\\n\\n`: no reasoning at all (llama.cpp's
    rule), not `reasoning_content: "\\n\\n"` (an empty reasoning box in every client)."""
    assert chat(proxy, upstream, "chat_thinking_off", "reasoning", stream) == (None, "Answer")
    assert chat(proxy, upstream, "chat_thinking_off", "strip", stream) == (None, "Answer")
