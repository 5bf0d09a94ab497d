"""llama-server's Responses stream end to end: events with no output_index, content_index or
sequence_number (tests/e2e/fixtures_llama.py), through the real proxy, read by the openai SDK
(`responses.create(stream=True)`, `responses.stream()`) and curl -N. Also what a strip-mode
client gets when the proxy cannot filter a stream: an error the SDKs raise, no think text."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from .fixtures_llama import LLAMA_MSG
from .fixtures_llama import llama_sse
from .fixtures_llama import llama_stream
from .test_core import KEY
from .test_responses import client
from .test_responses import curl_stream
from .test_responses import serve
from .test_responses import sse_events
from .upstream import Received
from .upstream import Reply

# The reproduction, `root ::= "<think>hidden</think>" " visible"`, cut as the sampler may.
HIDDEN = ["<th", "ink>hid", "den</think>", " vis", "ible"]


def text_of(events: list[Any], kind: str = "response.output_text.delta") -> str:
    return "".join(e.delta for e in events if e.type == kind)


@pytest.mark.parametrize("size", [1, 9, 10**6])
def test_strip_create_stream(proxy, upstream, size: int) -> None:
    serve(upstream, llama_sse(llama_stream(None, HIDDEN)), size)
    events = list(client(proxy).responses.create(model="m", input="Hi", stream=True))
    assert text_of(events) == "visible"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output[0].content[0].text == "visible"
    assert "hidden" not in repr(events) and "<think>" not in repr(events)


def test_strip_stream_helper(proxy, upstream) -> None:
    serve(upstream, llama_sse(llama_stream(["Hmm."], HIDDEN)), 7)
    with client(proxy).responses.stream(model="m", input="Hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == "visible" == text_of(events)
    assert [item.type for item in final.output] == ["message"]
    assert not any("reasoning" in e.type for e in events)


def test_reasoning_mode(proxy, upstream) -> None:
    serve(upstream, llama_sse(llama_stream(None, HIDDEN)), 5)
    headers = {"X-Think-Mode": "reasoning"}
    with client(proxy, **headers).responses.stream(model="m", input="Hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert text_of(events, "response.reasoning_text.delta") == "hidden"  # RESPONSES_REASONING=text
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert [c.text for c in final.output[0].content or []] == ["hidden"]
    assert final.output_text == "visible" == text_of(events)


def test_inline_mode(proxy, upstream) -> None:
    serve(upstream, llama_sse(llama_stream(["Hmm."], ["Hi"])), 5)
    events = list(
        client(proxy, **{"X-Think-Mode": "inline"}).responses.create(
            model="m", input="Hi", stream=True
        )
    )
    assert text_of(events) == "<think>Hmm.</think>Hi"
    assert events[-1].response.output[0].content[0].text == "<think>Hmm.</think>Hi"


def test_curl_sees_numbered_items_and_no_invented_sequence(proxy, upstream) -> None:
    serve(upstream, llama_sse(llama_stream(None, HIDDEN)), 3)
    out = curl_stream(proxy)
    assert "hidden" not in out and "think" not in out
    events = sse_events(out)
    assert all(name == data["type"] for name, data in events)
    assert not any("sequence_number" in data for _, data in events)
    deltas = [data for _, data in events if data["type"] == "response.output_text.delta"]
    assert "".join(d["delta"] for d in deltas) == "visible"
    assert {(d["item_id"], d["output_index"], d["content_index"]) for d in deltas} == {
        (LLAMA_MSG, 0, 0)
    }
    assert events[-1][1]["timings"]["predicted_n"] == 9  # the server's own fields pass


# -- strip mode fails closed ---------------------------------------------------------------------

BIG = 9 * 1024 * 1024  # above the 8 MiB bound on one event


def test_an_oversized_responses_event_ends_the_stream_with_an_error(proxy, upstream) -> None:
    events = llama_stream(None, ["<think>", "x" * BIG, "</think>Hi"])
    serve(upstream, llama_sse(events), 1 << 16)
    seen: list[Any] = []
    with pytest.raises(openai.APIError, match="could not filter this answer"):
        for event in client(proxy).responses.create(model="m", input="Hi", stream=True):
            seen.append(event)
    assert text_of(seen) == ""
    assert proxy.wait_log("ending this response with an error event")


def test_an_oversized_chat_event_ends_the_stream_with_an_error(proxy, upstream) -> None:
    def chunk(content: str) -> bytes:
        delta = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
        return (
            b"data: "
            + json.dumps({"id": "c", "object": "chat.completion.chunk", **delta}).encode()
            + b"\n\n"
        )

    raw = chunk("A <think>") + chunk("x" * BIG) + chunk("</think>B") + b"data: [DONE]\n\n"
    serve(upstream, raw, 1 << 16)
    seen: list[str] = []
    chat = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20)
    with pytest.raises(openai.APIError, match="could not filter this answer"):
        for part in chat.chat.completions.create(model="m", messages=[], stream=True):
            seen.append(part.choices[0].delta.content or "")
    assert "".join(seen) == "A "


def test_a_stream_in_an_encoding_the_proxy_cannot_decode(proxy, upstream) -> None:
    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(
            [llama_sse(llama_stream(None, HIDDEN))], headers={"Content-Encoding": "x-rot"}
        )

    upstream.reset(handler)
    out = curl_stream(proxy)
    assert "hidden" not in out
    ((name, data),) = sse_events(out)
    assert name == "error" and data["error"]["code"] == "think_filter_failed"
