"""The thinking budget on legacy completions (`/v1/completions`; issue 21, part 4): the real proxy
in front of a scripted upstream that streams like vLLM (vllm/entrypoints/openai/protocol.py
CompletionStreamResponse: `text_completion` chunks, the usage in a last chunk with `choices: []`
under `stream_options.include_usage`) and llama.cpp (the same chunk shape; server-task.cpp
`to_json_oaicompat`), driven by the official openai client. No server parses reasoning on
completions: the thought is inline in `text`. A continuation is the prompt, the text so far, the
wrap-up and the end tag; the script answers it at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from .test_core import KEY
from .test_think_budget import MESSAGE
from .test_think_budget import RULES
from .test_think_budget import client
from .test_think_budget import posts
from .upstream import Received
from .upstream import Reply
from .upstream import sse_event

STEPS = 300
PROMPT = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def budgeted(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("budget") / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "CONFIG_FILE": str(path)})


def text_chunk(text: str, finish: str | None = None, *, second: bool = False) -> dict[str, Any]:
    return {"id": "cmpl-second" if second else "cmpl-first", "object": "text_completion",
            "created": 1700000099 if second else 1700000000, "model": "vllm-qwen3-8b",
            "choices": [{"index": 0, "text": text, "logprobs": None,
                         "finish_reason": finish}]}  # fmt: skip


class Scripted:
    """The first request thinks for `think` deltas inside `<think>`, then answers; a
    continuation (its prompt ends with the end tag) answers at once."""

    def __init__(self, think: int = STEPS) -> None:
        self.think = think
        self.sent = 0

    async def __call__(self, req: Received, reply: Reply) -> None:
        body = req.json()
        second = body["prompt"].endswith("</think>\n\n")
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        if not second:
            await reply.chunk(sse_event(text_chunk("<think>\n")))
            for i in range(self.think):
                await reply.chunk(sse_event(text_chunk(f"step{i} ")))
                self.sent += 1
                await asyncio.sleep(0.003)
            await reply.chunk(sse_event(text_chunk("</think>\n\n")))
        for piece in ("The answer", " is 4."):
            await reply.chunk(sse_event(text_chunk(piece, second=second)))
        await reply.chunk(sse_event(text_chunk("", "stop", second=second)))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}
            last = {**text_chunk("", second=second), "choices": [], "usage": usage}
            await reply.chunk(sse_event(last))
        await reply.chunk(sse_event("[DONE]"))
        await reply.end_chunks()


@pytest.mark.parametrize("model", ["vllm-qwen3-8b", "llamacpp-qwen3"])
def test_a_streamed_completion_is_cut_at_the_budget_and_continued(budgeted, upstream, model):
    server = Scripted()
    upstream.reset(server)
    chunks = list(
        client(budgeted, "20").completions.create(
            model=model, prompt=PROMPT, stream=True, stream_options={"include_usage": True},
            max_tokens=500,
        )
    )  # fmt: skip
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text.endswith("The answer is 4.")  # never loses the answer
    assert {c.id for c in chunks} == {"cmpl-first"}
    assert {c.created for c in chunks} == {1700000000}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 40
    assert usage.completion_tokens == 5 + 20
    assert usage.completion_tokens_details.reasoning_tokens == 20
    assert server.sent < STEPS  # the server stopped generating
    first, again = posts(upstream)
    sent, body = first.json(), again.json()
    # "\n" is 1 token, "stepN " 2: nine whole deltas and 4 characters of the tenth
    so_far = "<think>\n" + "".join(f"step{i} " for i in range(9)) + "step"
    # think_mode reasoning: the proxy's filter moves the thought to reasoning_content
    assert text == "The answer is 4."
    reasoning = "".join((c.choices[0].model_extra or {}).get("reasoning_content") or ""
                        for c in chunks if c.choices)  # fmt: skip
    assert reasoning == so_far.removeprefix("<think>\n")
    assert body["prompt"] == f"{PROMPT}{so_far}\n\n{MESSAGE}\n</think>\n\n"
    assert body["stream"] is True and body["max_tokens"] == 500 and body["model"] == model
    assert {k: v for k, v in body.items() if k != "prompt"} == {
        k: v for k, v in sent.items() if k != "prompt"
    }
    for received in (first, again):
        assert received.headers["authorization"] == f"Bearer {KEY}"
        assert "x-cot-proxy-relay" not in received.headers
    assert "think budget: forced at 20 tokens" in budgeted.log()


def test_a_buffered_completion_is_built_from_the_two_streams(budgeted, upstream):
    upstream.reset(Scripted())
    answer = client(budgeted, "8").completions.create(model="vllm-qwen3-8b", prompt=PROMPT)
    assert answer.id == "cmpl-first" and answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].text.endswith("The answer is 4.")
    assert answer.usage is not None and answer.usage.completion_tokens == 5 + 8
    first, again = posts(upstream)
    assert first.json()["stream_options"] == {"include_usage": True}
    assert again.json()["stream"] is True


def test_a_completion_within_its_budget_makes_one_request(budgeted, upstream):
    upstream.reset(Scripted(think=3))
    chunks = list(
        client(budgeted, "50").completions.create(model="vllm-qwen3-8b", prompt=PROMPT, stream=True)
    )
    assert len(posts(upstream)) == 1
    assert "".join(c.choices[0].text for c in chunks if c.choices).endswith("The answer is 4.")


@pytest.mark.parametrize("stream", [True, False])
def test_strip_mode_lets_no_think_text_through_a_completions_cut(budgeted, upstream, stream):
    upstream.reset(Scripted())
    api = openai.OpenAI(base_url=f"{budgeted.url}/v1", api_key=KEY, max_retries=0, timeout=20,
                        default_headers={"X-Think-Budget": "4", "X-Think-Mode": "strip"})  # fmt: skip
    if stream:
        chunks = list(api.completions.create(model="vllm-qwen3-8b", prompt=PROMPT, stream=True))
        texts = [c.choices[0] for c in chunks if c.choices]
        text = "".join(c.text for c in texts)
        assert not any(c.model_extra for c in texts)
    else:
        choice = api.completions.create(model="vllm-qwen3-8b", prompt=PROMPT).choices[0]
        text = choice.text
        assert not choice.model_extra
    assert "step" not in text and "think>" not in text
    assert text.strip() == "The answer is 4."
    assert len(posts(upstream)) == 2
