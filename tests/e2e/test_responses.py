"""The OpenAI Responses API end to end: the real proxy, the openai SDK (`responses.create`,
`responses.stream`) and curl -N, against an upstream that writes vLLM's or Ollama's bytes
(fixtures_responses.py says where each shape comes from)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import openai
import pytest

from .conftest import run_entrypoint
from .fixtures_responses import VLLM_MSG
from .fixtures_responses import ollama_body
from .fixtures_responses import ollama_body_bytes
from .fixtures_responses import ollama_sse
from .fixtures_responses import ollama_stream
from .fixtures_responses import vllm_body
from .fixtures_responses import vllm_sse
from .fixtures_responses import vllm_stream
from .test_core import KEY
from .test_core import curl
from .upstream import Received
from .upstream import Reply

PIECES = ["<th", "ink>The user greets me", " & wants <b>bold</b>.</thi", "nk>\n\nHal", "lo! 👋"]
ANSWER = "Hallo! 👋"
THOUGHT = "The user greets me & wants <b>bold</b>."


@pytest.fixture(scope="module")
def rproxy(start_proxy, upstream):
    """RESPONSES_REASONING=summary globally; the model "both" writes both families."""
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "API_REQUEST_TIMEOUT": "10",
            "RESPONSES_REASONING": "summary",
            "LLM_PARAMS": "model=both,responses_reasoning=both,think_mode=reasoning",
        }
    )


def client(proxy, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20, default_headers=headers
    )


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def serve(upstream, raw: bytes, size: int = 10**6, delay: float = 0.0) -> None:
    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(cut(raw, size), delay=delay)

    upstream.reset(handler)


def serve_json(upstream, body: bytes, status: int = 200) -> None:
    async def handler(req: Received, reply: Reply) -> None:
        await reply.body(status, body, {"Content-Type": "application/json"})

    upstream.reset(handler)


def streamed(proxy, model: str = "m", **headers: str) -> list[Any]:
    return list(client(proxy, **headers).responses.create(model=model, input="Hi", stream=True))


def answer_of(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


@pytest.mark.parametrize("size", [1, 7, 10**6])
def test_create_stream_cut_anywhere(proxy, upstream, size: int) -> None:
    serve(upstream, vllm_sse(vllm_stream(text=PIECES)), size)
    events = streamed(proxy)
    assert answer_of(events) == ANSWER
    assert [e.sequence_number for e in events] == list(range(len(events)))
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == ANSWER
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == ANSWER
    assert upstream.received[-1].path == "/v1/responses"


def test_stream_helper_final_response_strip(proxy, upstream) -> None:
    upstream_events = vllm_stream(
        ["Let me think."], PIECES, [("get_weather", ['{"city": ', '"Paris"}'])]
    )
    serve(upstream, vllm_sse(upstream_events), 5)
    with client(proxy).responses.stream(model="m", input="Hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == ANSWER
    assert [item.type for item in final.output] == ["message", "function_call"]
    assert final.output[1].arguments == '{"city": "Paris"}'
    assert not any("reasoning" in e.type for e in events)
    assert final.usage is not None and final.usage.input_tokens == 12


@pytest.mark.parametrize(("model", "family"), [("m", "summary"), ("both", "both")])
def test_stream_helper_final_response_reasoning(rproxy, upstream, model: str, family: str) -> None:
    serve(upstream, vllm_sse(vllm_stream(text=PIECES)), 3)
    headers = {"X-Think-Mode": "reasoning"} if model == "m" else {}
    with client(rproxy, **headers).responses.stream(model=model, input="Hi") as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert final.output_text == ANSWER
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert [s.text for s in reasoning.summary] == [THOUGHT]
    assert "response.reasoning_summary_text.delta" in kinds
    if family == "both":
        assert [c.text for c in reasoning.content or []] == [THOUGHT]
        assert "response.reasoning_text.delta" in kinds
    else:
        assert reasoning.content is None and "response.reasoning_text.delta" not in kinds


def test_ollama_stream_with_its_reasoning_items(proxy, upstream) -> None:
    raw = ollama_sse(ollama_stream(["Hmm, ", "a greeting."], ["Hi <think>aside</think>", "there"]))
    assert b"\\u003cthink\\u003e" in raw
    serve(upstream, raw, 11)
    events = streamed(proxy)
    assert answer_of(events) == "Hi there"
    assert not any("reasoning" in e.type for e in events)
    assert [item.type for item in events[-1].response.output] == ["message"]
    reasoning = streamed(proxy, **{"X-Think-Mode": "reasoning"})
    assert "response.reasoning_summary_text.delta" in [e.type for e in reasoning]  # as it came
    inline = streamed(proxy, **{"X-Think-Mode": "inline"})
    assert answer_of(inline) == "<think>Hmm, a greeting.</think>Hi <think>aside</think>there"


@pytest.mark.parametrize(
    ("mode", "items"),
    [
        ("strip", [("message", ANSWER)]),
        ("reasoning", [("reasoning", THOUGHT), ("message", ANSWER)]),
        ("keep", [("message", "".join(PIECES))]),
    ],
)
def test_not_streamed(proxy, upstream, mode: str, items: list[tuple[str, str]]) -> None:
    serve_json(upstream, json.dumps(vllm_body(None, "".join(PIECES))).encode())
    response = client(proxy, **{"X-Think-Mode": mode}).responses.create(model="m", input="Hi")
    got = []
    for item in response.output:
        parts = getattr(item, "content", None) or getattr(item, "summary", None) or []
        got.append((item.type, "".join(p.text for p in parts)))
    assert got == items
    assert response.output_text == items[-1][1]


def test_not_streamed_ollama_inline(proxy, upstream) -> None:
    serve_json(upstream, ollama_body_bytes(ollama_body("Hmm.", "Hi")))
    response = client(proxy, **{"X-Think-Mode": "inline"}).responses.create(model="m", input="Hi")
    assert response.output_text == "<think>Hmm.</think>Hi"
    assert [item.type for item in response.output] == ["message"]


def sse_events(text: str) -> list[tuple[str | None, dict[str, Any]]]:
    events = []
    for block in text.split("\n\n"):
        lines = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if "data" in lines:
            events.append((lines.get("event"), json.loads(lines["data"])))
    return events


def curl_stream(proxy, *headers: str) -> str:
    args = ["-N", "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {KEY}"]
    for header in headers:
        args += ["-H", header]
    body = '{"model":"m","input":"Hi","stream":true}'
    return curl(*args, "-d", body, f"{proxy.url}/v1/responses").stdout


def test_curl_sees_named_events_and_untouched_ones_byte_for_byte(proxy, upstream) -> None:
    raw = vllm_sse(vllm_stream(text=["Hello", "<think>x</think>", " world"]))
    serve(upstream, raw, 9)
    out = curl_stream(proxy)
    events = sse_events(out)
    assert all(name == data["type"] for name, data in events)
    assert "[DONE]" not in out
    assert (
        "".join(d["delta"] for _, d in events if d["type"] == "response.output_text.delta")
        == "Hello world"
    )
    # before the dropped think delta nothing was renumbered: those events are the upstream's bytes
    assert out.encode().startswith(raw[: raw.index(b"<think>")].rsplit(b"event: ", 1)[0])
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))


def test_keep_mode_is_byte_identical(proxy, upstream) -> None:
    raw = vllm_sse(vllm_stream(["r"], PIECES))
    serve(upstream, raw, 4)
    assert curl_stream(proxy, "X-Think-Mode: keep").encode() == raw


def test_an_error_answer_passes_unchanged(proxy, upstream) -> None:
    body = b'{"error":{"message":"model \\u003cthink\\u003e not found","type":"NotFoundError","param":null,"code":404}}'
    serve_json(upstream, body, 404)
    with pytest.raises(openai.NotFoundError) as caught:
        client(proxy).responses.create(model="m", input="Hi", stream=True)
    assert caught.value.response.content == body


def test_a_long_dropped_block_keeps_the_client_reading(proxy, upstream) -> None:
    """7 s of think deltas, one every 0.25 s: a comment line reaches the client within 5 s."""
    raw = vllm_sse(vllm_stream(text=["<think>"] + ["more thought "] * 28 + ["</think>Done"]))
    events = [e + b"\n\n" for e in raw.split(b"\n\n") if e]

    async def handler(req: Received, reply: Reply) -> None:
        await reply.sse(events, delay=0.25)

    upstream.reset(handler)
    body = b'{"model":"m","input":"Hi","stream":true}'
    request = (
        b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    arrivals: list[tuple[float, bytes]] = []
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as s:
        s.sendall(request)
        start = time.monotonic()
        while chunk := s.recv(65536):
            arrivals.append((time.monotonic() - start, chunk))
    pings = [at for at, chunk in arrivals if b": ping" in chunk]
    assert pings and pings[0] < 6.0
    answer = [at for at, chunk in arrivals if b'"delta":"Done"' in chunk]
    gaps = [b - a for a, b in zip([0.0, *pings], [*pings, answer[0]])]
    assert max(gaps) < 6.0
    # and the SDK reads that stream as if the comments were not there
    serve(upstream, raw, 10**6)
    assert answer_of(streamed(proxy)) == "Done"


def test_the_log_line_names_the_format(proxy, upstream) -> None:
    serve(upstream, vllm_sse(vllm_stream(text=PIECES)))
    streamed(proxy)
    log = proxy.wait_log("POST /v1/responses")
    assert "format=responses" in log


def test_message_ids_survive(proxy, upstream) -> None:
    serve(upstream, vllm_sse(vllm_stream(["r"], PIECES)), 10**6)
    events = streamed(proxy)
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [(e.output_index, e.item.id) for e in added] == [(0, VLLM_MSG)]


def test_an_unknown_responses_reasoning_stops_the_start(tmp_path) -> None:
    result = run_entrypoint(
        {"TARGET_BASE_URL": "http://127.0.0.1:9/v1/", "RESPONSES_REASONING": "summaries"}, tmp_path
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "RESPONSES_REASONING must be one of text, summary, both, not 'summaries'" in output
    assert "Traceback" not in output
