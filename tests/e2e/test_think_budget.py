"""The thinking budget end to end (issue 21, part 4): the real proxy in front of scripted
upstreams that answer like the real servers, driven by the official openai and ollama clients.

Shapes: vLLM's streamed chat with a reasoning parser (vllm/entrypoints/openai/protocol.py
DeltaMessage: `reasoning` beside `content`; a first chunk with the role; `stream_options.
include_usage` adds a last chunk with `choices: []` and `usage`; a continuation is asked with
`continue_final_message`, PR #8942); llama.cpp's recorded bytes (tests/fixtures/llamacpp/,
`--reasoning-format none`: the think tags inline in `content`, split over deltas); Ollama's
native NDJSON (tests/e2e/ollama_fixtures.py, ollama api/types.go ChatResponse).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import anthropic
import ollama
import openai
import pytest

from . import messages_upstream
from .conftest import run_entrypoint
from .ollama_fixtures import chat_line
from .ollama_fixtures import ndjson
from .test_core import KEY
from .test_metrics import scrape
from .test_metrics import value
from .upstream import Received
from .upstream import Reply
from .upstream import sse_event

FIXTURES = Path(__file__).parent.parent / "fixtures" / "llamacpp"
HI: list[Any] = [{"role": "user", "content": "What is 2+2?"}]
MESSAGE = "Time is up: I answer now."
RULES = f"""
models:
  - model: "vllm-*"
    server: vllm
    think_mode: reasoning
    think_budget_mode: proxy
    think_budget_message: "{MESSAGE}"
  - model: "sglang-*"
    server: sglang
    think_mode: reasoning
    think_budget_mode: proxy
    think_budget_message: "{MESSAGE}"
  - model: "native-*"
    server: vllm
  - model: "llamacpp-*"
    server: llamacpp
    think_mode: reasoning
    think_budget_mode: proxy
    think_budget_message: "{MESSAGE}"
  - model: "ollama-*"
    server: ollama
    think_mode: reasoning
    think_budget_message: "{MESSAGE}"
  - model: "qwen3:8b"
    server: ollama
    think_mode: reasoning
    think_budget: 10
    think_budget_message: "{MESSAGE}"
"""
STEPS = 300  # reasoning deltas a scripted server would send: far more than any budget here


def vllm_chunk(
    delta: dict[str, Any], finish: str | None = None, *, second: bool = False
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-second" if second else "chatcmpl-first",
        "object": "chat.completion.chunk",
        "created": 1700000099 if second else 1700000000,
        "model": "vllm-qwen3-8b",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


class Scripted:
    """A vLLM-like chat server: the first request thinks for STEPS deltas (`think` of them
    before its answer, if the model stays within), a continuation answers at once."""

    def __init__(self, think: int = STEPS) -> None:
        self.think = think
        self.sent = 0  # reasoning deltas the first request got out before the close

    async def __call__(self, req: Received, reply: Reply) -> None:
        body = req.json()
        # a continuation: vLLM's flag, or (Ollama's /v1) a trailing assistant turn
        second = (
            bool(body.get("continue_final_message")) or body["messages"][-1]["role"] == "assistant"
        )
        usage = (body.get("stream_options") or {}).get("include_usage")
        if not body.get("stream"):  # a buffered answer: only requests the relay did not send
            message = {"role": "assistant", "content": "The answer is 4.", "reasoning": "hm"}
            answer = {**vllm_chunk({}), "object": "chat.completion"}
            answer["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
            await reply.json(200, answer)
            return
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        await reply.chunk(
            sse_event(vllm_chunk({"role": "assistant", "content": ""}, second=second))
        )
        if not second:
            for i in range(self.think):
                await reply.chunk(sse_event(vllm_chunk({"reasoning": f"step{i} "})))
                self.sent += 1
                await asyncio.sleep(0.003)
        for piece in ("The answer", " is 4."):
            await reply.chunk(sse_event(vllm_chunk({"content": piece}, second=second)))
        await reply.chunk(sse_event(vllm_chunk({}, "stop", second=second)))
        if usage:
            tokens = {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}
            last = vllm_chunk({}, second=second)
            last["choices"] = []
            last["usage"] = tokens
            await reply.chunk(sse_event(last))
        await reply.chunk(sse_event("[DONE]"))
        await reply.end_chunks()


@pytest.fixture(scope="module")
def budgeted(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("budget") / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "CONFIG_FILE": str(path)})


def client(proxy, budget: str | None = None) -> openai.OpenAI:
    headers = {"X-Think-Budget": budget} if budget is not None else {}
    return openai.OpenAI(
        base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20, default_headers=headers
    )


def reasoning_of(delta: Any) -> str:
    extra = getattr(delta, "model_extra", None) or {}
    return "".join(extra.get(k) or "" for k in ("reasoning", "reasoning_content"))


def tokens(deltas: list[str]) -> int:
    """The proxy's count: one a delta, one per 4 characters of a longer one."""
    return sum(max(1, -(-len(d) // 4)) for d in deltas if d)


def posts(upstream) -> list[Received]:
    return [r for r in upstream.received if r.method == "POST"]


@pytest.mark.parametrize("model", ["vllm-qwen3-8b", "sglang-qwen3-8b"])
def test_streamed_vllm_answer_is_cut_at_the_budget_and_continued(budgeted, upstream, model):
    server = Scripted()  # SGLang: the same chunks and continue_final_message (PR #4226)
    upstream.reset(server)
    stream = client(budgeted, "20").chat.completions.create(
        model=model, messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    reasoning = [reasoning_of(c.choices[0].delta) for c in chunks if c.choices]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "The answer is 4."  # never loses the answer
    assert 0 < tokens(reasoning) <= 20 + 16
    assert {c.id for c in chunks} == {"chatcmpl-first"}
    assert {c.created for c in chunks} == {1700000000}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 40
    assert usage.completion_tokens == 5 + 20
    assert usage.completion_tokens_details.reasoning_tokens == 20
    assert server.sent < STEPS  # the server stopped generating
    first, again = posts(upstream)
    # the continuation, field by field
    sent = first.json()
    body = again.json()
    assert sent["stream"] is True and "thinking_token_budget" not in sent
    thought = "".join(reasoning)
    assert body["messages"] == [
        *HI,
        {"role": "assistant", "content": f"<think>\n{thought.rstrip()}\n\n{MESSAGE}\n</think>\n\n"},
    ]
    assert body["continue_final_message"] is True
    assert body["add_generation_prompt"] is False
    assert body["stream"] is True
    assert body["model"] == model
    assert body["stream_options"] == {"include_usage": True}
    assert set(body) == {*sent, "continue_final_message", "add_generation_prompt"}
    for received in (first, again):
        assert received.headers["authorization"] == f"Bearer {KEY}"
        assert "x-cot-proxy-relay" not in received.headers
        assert "x-think-budget" not in received.headers
    log = budgeted.log()
    assert "think budget: forced at 20 tokens" in log


def test_buffered_answer_is_built_from_the_two_streams(budgeted, upstream):
    upstream.reset(Scripted())
    answer = client(budgeted, "8").chat.completions.create(model="vllm-qwen3-8b", messages=HI)
    message = answer.choices[0].message
    assert message.content == "The answer is 4."
    assert tokens([reasoning_of(message)]) <= 8 + 16
    assert answer.id == "chatcmpl-first" and answer.created == 1700000000
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.completion_tokens_details is not None
    assert answer.usage.completion_tokens_details.reasoning_tokens == 8
    assert [r.json()["stream"] for r in posts(upstream)] == [True, True]


def test_a_budget_the_model_stays_within_costs_no_second_request(budgeted, upstream):
    upstream.reset(Scripted(think=5))
    stream = client(budgeted, "50").chat.completions.create(
        model="vllm-qwen3-8b", messages=HI, stream=True
    )
    chunks = list(stream)
    reasoning = "".join(reasoning_of(c.choices[0].delta) for c in chunks if c.choices)
    assert reasoning == "".join(f"step{i} " for i in range(5))
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The answer is 4."
    )
    assert len(posts(upstream)) == 1


def test_native_budget_is_the_servers_knob(budgeted, upstream):
    upstream.reset(Scripted(think=3))
    answer = client(budgeted).chat.completions.create(
        model="native-qwen3", messages=HI, extra_body={"thinking_budget_tokens": 64}
    )
    assert answer.choices[0].message.content == "The answer is 4."
    (sent,) = posts(upstream)
    body = sent.json()
    assert body["thinking_token_budget"] == 64
    assert "thinking_budget_tokens" not in body and "stream" not in body  # not relayed


def test_no_budget_is_not_relayed(budgeted, upstream):
    upstream.reset(Scripted(think=3))
    client(budgeted).chat.completions.create(model="vllm-qwen3-8b", messages=HI)
    (sent,) = posts(upstream)
    assert "stream" not in sent.json()  # the client's request as it was: not the relay's


def llamacpp_recorded(name: str):
    recorded = (FIXTURES / f"{name}.sse").read_bytes()

    async def handler(req: Received, reply: Reply) -> None:
        body = req.json()
        if body["messages"][-1]["role"] == "assistant":  # the continuation: an answer at once
            events = [sse_event(vllm_chunk({"content": "b"}, second=True)),
                      sse_event(vllm_chunk({}, "stop", second=True)), sse_event("[DONE]")]  # fmt: skip
            await reply.sse(events)
        else:
            await reply.sse([recorded[i : i + 7] for i in range(0, len(recorded), 7)])

    return handler


def test_llamacpp_inline_tags_are_cut_and_continued(budgeted, upstream):
    # "<think>one</think>a <think>two</think>b", "one" streamed as "on", "e": cut after "on"
    upstream.reset(llamacpp_recorded("chat_several_blocks"))
    answer = client(budgeted, "1").chat.completions.create(model="llamacpp-qwen3", messages=HI)
    message = answer.choices[0].message
    assert message.content == "b"
    assert reasoning_of(message) == "on"
    first, again = posts(upstream)
    assert again.json()["messages"] == [
        *HI, {"role": "assistant", "content": "", "reasoning_content": f"on\n\n{MESSAGE}"}
    ]  # fmt: skip
    assert "continue_final_message" not in again.json()


def test_llamacpp_reasoning_after_the_answer_began_is_cut_not_continued(budgeted, upstream):
    upstream.reset(llamacpp_recorded("chat_several_blocks"))
    answer = client(budgeted, "2").chat.completions.create(model="llamacpp-qwen3", messages=HI)
    message = answer.choices[0].message
    assert message.content == "a b"  # the answer had begun: no continuation
    assert reasoning_of(message) == "one"  # "two" is past the budget
    assert len(posts(upstream)) == 1


def test_llamacpp_recorded_within_budget_passes_unchanged(budgeted, upstream):
    upstream.reset(llamacpp_recorded("chat_several_blocks"))
    answer = client(budgeted, "1000").chat.completions.create(model="llamacpp-qwen3", messages=HI)
    assert len(posts(upstream)) == 1
    upstream.reset(llamacpp_recorded("chat_several_blocks"))
    plain = client(budgeted).chat.completions.create(
        model="llamacpp-qwen3", messages=HI, stream=True
    )
    chunks = [c.choices[0].delta for c in plain if c.choices]
    assert answer.choices[0].message.content == "".join(d.content or "" for d in chunks) == "a b"
    assert reasoning_of(answer.choices[0].message) == "".join(reasoning_of(d) for d in chunks)


async def ollama_upstream(req: Received, reply: Reply) -> None:
    body = req.json()
    if body["messages"][-1]["role"] == "assistant":
        lines = [chat_line("Four.", step=1), chat_line("", step=2, done_reason="stop")]
    else:
        lines = [chat_line("", step=i, thinking=f"hmm{i} ") for i in range(STEPS)]
    await reply.head(200, {"Content-Type": "application/x-ndjson", "Transfer-Encoding": "chunked"})
    for data in ndjson(lines):
        await reply.chunk(data)
        await asyncio.sleep(0.002)
    await reply.end_chunks()


@pytest.mark.parametrize("stream", [True, False])
def test_ollama_native_chat_is_cut_and_continued(budgeted, upstream, stream):
    upstream.reset(ollama_upstream)
    api = ollama.Client(host=budgeted.url, timeout=20)
    if stream:
        parts = list(api.chat(model="qwen3:8b", messages=HI, think=True, stream=True))
        content = "".join(p.message.content or "" for p in parts)
        thinking = [p.message.thinking or "" for p in parts]
        assert parts[-1].done and parts[-1].eval_count == 57 + 10
    else:
        answer = api.chat(model="qwen3:8b", messages=HI, think=True)
        content, thinking = answer.message.content or "", [answer.message.thinking or ""]
    assert content == "Four."
    assert tokens(thinking) <= 10 + 16
    first, again = posts(upstream)
    body = again.json()
    thought = "".join(thinking)
    assert body["messages"][-1] == {
        "role": "assistant", "content": "", "thinking": f"{thought.rstrip()}\n\n{MESSAGE}"
    }  # fmt: skip
    assert body["stream"] is True
    assert {k: v for k, v in body.items() if k != "messages"} == {
        k: v for k, v in first.json().items() if k != "messages"
    }
    assert "continue_final_message" not in body


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5", ""])
def test_a_bad_header_is_a_400(budgeted, upstream, value):
    with pytest.raises(openai.BadRequestError) as caught:
        client(budgeted, value).chat.completions.create(model="vllm-qwen3-8b", messages=HI)
    assert caught.value.code == "invalid_think_budget"
    assert not posts(upstream)


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ("model=m,think_budget=-1", "think_budget must be a whole number of tokens"),
        ("model=m,think_budget_mode=always", "unknown think_budget_mode 'always'"),
    ],
)
def test_a_bad_rule_value_stops_the_start(tmp_path, upstream, params, said):
    done = run_entrypoint({"TARGET_BASE_URL": upstream.url, "LLM_PARAMS": params}, tmp_path)
    assert done.returncode != 0
    assert said in done.stdout + done.stderr


def test_outcomes_are_counted(budgeted, upstream):
    def counts() -> list[float]:
        _, samples, _ = scrape(budgeted)
        return [value(samples, "cot_proxy_think_budget_total", outcome=o)
                for o in ("within", "native", "forced")]  # fmt: skip

    before = counts()
    upstream.reset(Scripted(think=3))
    client(budgeted, "50").chat.completions.create(model="vllm-qwen3-8b", messages=HI)
    client(budgeted, "50").chat.completions.create(model="native-qwen3", messages=HI)
    upstream.reset(Scripted())
    client(budgeted, "5").chat.completions.create(model="vllm-qwen3-8b", messages=HI)
    assert [a - b for a, b in zip(counts(), before, strict=True)] == [1, 1, 1]


async def refuses(req: Received, reply: Reply) -> None:
    """vLLM without --reasoning-config (NVIDIA-NeMo/RL PR #4220 quoting vllm input_processor)."""
    error = {"error": {"message": "thinking_token_budget is set but reasoning_config is not "
                       "configured", "type": "BadRequestError", "code": 400}}  # fmt: skip
    await reply.json(400, error)


async def never_streams(req: Received, reply: Reply) -> None:
    answer = {**vllm_chunk({}), "object": "chat.completion"}
    answer["choices"] = [{"index": 0, "message": {"role": "assistant", "content": "Whole."},
                          "finish_reason": "stop"}]  # fmt: skip
    await reply.json(200, answer)


def test_an_upstream_error_reaches_the_client_as_it_came(budgeted, upstream):
    upstream.reset(refuses)
    with pytest.raises(openai.BadRequestError) as caught:
        client(budgeted, "5").chat.completions.create(model="vllm-qwen3-8b", messages=HI)
    assert "reasoning_config is not configured" in str(caught.value)
    assert len(posts(upstream)) == 1


def test_a_server_that_does_not_stream_is_passed_on(budgeted, upstream):
    upstream.reset(never_streams)
    answer = client(budgeted, "5").chat.completions.create(model="vllm-qwen3-8b", messages=HI)
    assert answer.choices[0].message.content == "Whole."


async def ollama_detected(req: Received, reply: Reply) -> None:
    """Ollama answering the start-up probe and /api/show (server/routes.go ShowHandler)."""
    if req.path == "/api/version":
        await reply.json(200, {"version": "0.13.0"})
    elif req.path == "/api/show":
        show = {"template": "{{ .Prompt }}", "capabilities": ["completion", "thinking"],
                "details": {"family": "qwen3"}}  # fmt: skip
        await reply.json(200, show)
    elif req.method == "POST":
        await ollama_upstream(req, reply)
    else:
        await reply.body(404, b"404 page not found", {"Content-Type": "text/plain"})


def test_a_flow_that_waited_for_detection_is_relayed(start_proxy, upstream):
    upstream.reset(ollama_detected)
    proxy = start_proxy({"TARGET_BASE_URL": f"{upstream.url}/", "THINK_FAMILY": "auto"})
    api = ollama.Client(host=proxy.url, timeout=20, headers={"X-Think-Budget": "3"})
    answer = api.chat(model="qwen3:8b", messages=HI, think=True)
    assert answer.message.content == "Four."
    assert answer.message.thinking is None  # THINK_MODE strip, the default, holds here too
    chats = [r for r in upstream.received if r.path == "/api/chat"]
    assert len(chats) == 2 and chats[1].json()["messages"][-1]["thinking"].startswith("hmm0 hmm1")
    assert any(r.path == "/api/show" for r in upstream.received)  # it did wait for the probe


def test_an_unreachable_target_is_a_502_in_the_apis_shape(start_proxy, tmp_path):
    from .conftest import free_port

    rules = tmp_path / "rules.yaml"
    rules.write_text("models:\n  - model: m\n    server: ollama\n    think_budget: 5\n")
    proxy = start_proxy(
        {"TARGET_BASE_URL": f"http://127.0.0.1:{free_port()}/", "CONFIG_FILE": str(rules)}
    )
    with pytest.raises(ollama.ResponseError) as caught:
        ollama.Client(host=proxy.url, timeout=20).chat(model="m", messages=HI)
    assert caught.value.status_code == 502
    assert "Cannot get an answer from the target http://127.0.0.1:" in str(caught.value)


@pytest.mark.parametrize("stream", [True, False])
def test_strip_mode_lets_no_think_text_through_a_cut(budgeted, upstream, stream):
    upstream.reset(llamacpp_recorded("chat_several_blocks"))
    api = openai.OpenAI(base_url=f"{budgeted.url}/v1", api_key=KEY, max_retries=0, timeout=20,
                        default_headers={"X-Think-Budget": "1", "X-Think-Mode": "strip"})  # fmt: skip
    if stream:
        chunks = list(api.chat.completions.create(model="llamacpp-qwen3", messages=HI, stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        content = "".join(d.content or "" for d in deltas)
        assert not any(reasoning_of(d) for d in deltas)
    else:
        message = (
            api.chat.completions.create(model="llamacpp-qwen3", messages=HI).choices[0].message
        )
        content = message.content or ""
        assert not reasoning_of(message)
    assert content == "b"
    assert len(posts(upstream)) == 2


async def ollama_messages(req: Received, reply: Reply) -> None:
    """Ollama's /v1/messages, which accepts budget_tokens and ignores it (ollama docs/api/
    anthropic-compatibility.mdx): thinks on and on; a continuation answers at once. Events as
    tests/e2e/messages_upstream.py builds them (the sequence Ollama's StreamConverter sends)."""
    body = req.json()
    if body["messages"][-1]["role"] == "assistant":
        events = messages_upstream.vllm_text(["Four", "."])
    else:
        events = messages_upstream.vllm_thinking_tool(
            [f"idea{i} " for i in range(STEPS)], ["x"], []
        )
    await reply.sse([messages_upstream.frame(e) for e in events], delay=0.001)


@pytest.mark.parametrize("stream", [True, False])
def test_claude_codes_budget_tokens_hold_on_ollamas_messages_api(budgeted, upstream, stream):
    upstream.reset(ollama_messages)
    api = anthropic.Anthropic(base_url=budgeted.url, api_key=KEY, max_retries=0, timeout=20)
    asked: dict[str, Any] = {"model": "ollama-qwen3", "max_tokens": 4096, "messages": HI,
                             "thinking": {"type": "enabled", "budget_tokens": 12}}  # fmt: skip
    if stream:
        with api.messages.stream(**asked) as events:
            message = events.get_final_message()
    else:
        message = api.messages.create(**asked)
    texts = [b.text for b in message.content if b.type == "text"]
    thinking = [b.thinking for b in message.content if b.type == "thinking"]
    assert "".join(texts) == "Four."
    assert tokens(thinking) <= 12 + 16  # one block here, counted by length: an upper bound
    first, again = posts(upstream)
    assert "budget_tokens" not in first.json()["thinking"]
    turn = again.json()["messages"][-1]
    assert turn["role"] == "assistant" and turn["content"][0]["type"] == "thinking"
    assert turn["content"][0]["thinking"].endswith(f"\n\n{MESSAGE}")
    assert message.usage.output_tokens == 30 + 12  # the client's budget, read as the setting


def test_an_https_target_is_reached_with_the_proxys_trust(start_proxy, tmp_path):
    from .certs import make_ca_and_server
    from .upstream import Upstream

    ca, context = make_ca_and_server(tmp_path)
    server = Upstream().start(tls=context)
    try:
        server.reset(Scripted())
        rules = tmp_path / "rules.yaml"
        rules.write_text("models:\n  - model: m\n    server: vllm\n    think_budget_mode: proxy\n")
        url = f"https://127.0.0.1:{server.port}/v1"
        for env, verified in (({"TARGET_CA_BUNDLE": str(ca)}, True), ({}, False)):
            proxy = start_proxy({"TARGET_BASE_URL": url, "CONFIG_FILE": str(rules), **env})
            api = client(proxy, "4")
            if verified:
                answer = api.chat.completions.create(model="m", messages=HI)
                assert answer.choices[0].message.content == "The answer is 4."
                assert len(server.received) == 2
            else:  # the relay trusts what mitmproxy trusts: no CA bundle, no answer
                with pytest.raises(openai.APIStatusError) as caught:
                    api.chat.completions.create(model="m", messages=HI)
                assert caught.value.status_code == 502
                assert "certificate" in str(caught.value).lower()
    finally:
        server.stop()


def test_ollamas_openai_api_continues_with_reasoning(budgeted, upstream):
    """Ollama's /v1/chat/completions streams `reasoning` deltas (ollama openai/openai.go
    ChunkChoice Delta.Reasoning), as the vLLM-shaped script does."""
    server = Scripted()
    upstream.reset(server)
    answer = client(budgeted, "6").chat.completions.create(model="ollama-qwen3", messages=HI)
    assert answer.choices[0].message.content == "The answer is 4."
    first, again = posts(upstream)
    thought = reasoning_of(answer.choices[0].message)
    assert again.json()["messages"] == [
        *HI, {"role": "assistant", "content": "", "reasoning": f"{thought.rstrip()}\n\n{MESSAGE}"}
    ]  # fmt: skip
    assert "continue_final_message" not in again.json()


def test_a_client_that_leaves_stops_the_server(budgeted, upstream):
    server = Scripted()
    upstream.reset(server)
    closed = upstream.connections_closed
    stream = client(budgeted, "1000").chat.completions.create(
        model="vllm-qwen3-8b", messages=HI, stream=True
    )
    for _, _chunk in zip(range(5), stream, strict=False):
        pass
    stream.close()  # the client goes away mid-thought
    deadline = time.monotonic() + 10
    while upstream.connections_closed == closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.connections_closed > closed
    assert server.sent < STEPS  # the relay closed its upstream request too
