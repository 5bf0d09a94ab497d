"""The thinking budget on the Responses API (issue 21, part 4; what Codex speaks): the real proxy
in front of scripted upstreams that stream like vLLM and Ollama (tests/e2e/responses_upstream.py
cites each shape), driven by the official openai client.

A continuation is recognised as each server would see it: vLLM a last assistant item with
`status: "in_progress"` (PR #32100), Ollama a reasoning item carrying `encrypted_content`
before a trailing assistant message (openai/responses.go FromResponsesRequest).
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from .responses_upstream import frame
from .responses_upstream import stream
from .test_core import KEY
from .test_think_budget import MESSAGE
from .test_think_budget import RULES
from .test_think_budget import client
from .test_think_budget import posts
from .test_think_budget import tokens
from .upstream import Received
from .upstream import Reply

STEPS = 300
QUESTION = "What is 2+2?"


@pytest.fixture(scope="module")
def budgeted(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("budget") / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "CONFIG_FILE": str(path)})


class Scripted:
    """A Responses server: the first request thinks for `think` deltas before its answer, a
    continuation answers at once."""

    def __init__(self, think: int = STEPS, ollama: bool = False, inline: bool = False) -> None:
        self.think = think
        self.ollama = ollama
        self.inline = inline  # no reasoning parser: the thought inline in output_text
        self.sent = 0

    async def __call__(self, req: Received, reply: Reply) -> None:
        body = req.json()
        items = body["input"] if isinstance(body["input"], list) else []
        second = bool(items) and items[-1].get("role") == "assistant"
        await reply.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        if second:
            events = stream([], ["The answer", " is 4."], rid="resp_second", created=1700000099)
            await reply.chunk(frame(events))
        else:
            thinking = [f"step{i} " for i in range(self.think)]
            if self.inline:
                answer = ["<think>\n", *thinking, "</think>\n\n", "The answer", " is 4."]
                data = frame(stream([], answer))
            else:
                data = frame(stream(thinking, ["The answer", " is 4."], ollama=self.ollama))
            for piece in data.split(b"\n\n")[:-1]:
                await reply.chunk(piece + b"\n\n")
                if b'"step' in piece and b".delta" in piece:
                    self.sent += 1
                    await asyncio.sleep(0.003)
        await reply.end_chunks()


def reasoning_of(events: list[Any]) -> list[str]:
    kinds = ("response.reasoning_text.delta", "response.reasoning_summary_text.delta")
    return [e.delta for e in events if e.type in kinds]


@pytest.mark.parametrize("model", ["vllm-qwen3-8b", "ollama-qwen3"])
def test_a_streamed_responses_answer_is_cut_at_the_budget_and_continued(
    budgeted,
    upstream,
    model,
):
    server = Scripted(ollama=model.startswith("ollama"))
    upstream.reset(server)
    events = list(client(budgeted, "20").responses.create(model=model, input=QUESTION, stream=True))
    reasoning = reasoning_of(events)
    answer = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert answer == "The answer is 4."  # never loses the answer
    assert 0 < tokens(reasoning) <= 20 + 16
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.type for e in events].count("response.created") == 1
    final = events[-1]
    assert final.type == "response.completed"
    assert (final.response.id, final.response.created_at) == ("resp_first", 1700000000)
    assert [item.id for item in final.response.output] == ["rs_resp_first", "msg_resp_second"]
    assert final.response.output_text == "The answer is 4."
    usage = final.response.usage
    assert usage.input_tokens == 40 and usage.output_tokens == 5 + 20
    assert usage.total_tokens == 40 + 25
    assert usage.output_tokens_details.reasoning_tokens == 20
    assert server.sent < STEPS  # the server stopped generating
    first, again = posts(upstream)
    sent, body = first.json(), again.json()
    assert sent["stream"] is True and sent["input"] == QUESTION
    thought = f"{''.join(reasoning).rstrip()}\n\n{MESSAGE}"
    user = {"role": "user", "content": QUESTION}
    if model.startswith("ollama"):
        assert body["input"] == [
            user,
            {"type": "reasoning", "summary": [], "encrypted_content": thought},
            {"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": ""}]},
        ]  # fmt: skip
    else:
        assert body["input"] == [
            user,
            {"type": "message", "role": "assistant", "status": "in_progress",
             "content": [{"type": "output_text", "text": f"<think>\n{thought}\n</think>\n\n"}]},
        ]  # fmt: skip
    assert body["stream"] is True and body["model"] == model
    assert set(body) == set(sent)
    for received in (first, again):
        assert received.headers["authorization"] == f"Bearer {KEY}"
        assert "x-cot-proxy-relay" not in received.headers
        assert "x-think-budget" not in received.headers
    assert "think budget: forced at 20 tokens" in budgeted.log()


def test_a_buffered_responses_answer_is_built_from_the_two_streams(budgeted, upstream):
    upstream.reset(Scripted())
    answer = client(budgeted, "8").responses.create(model="vllm-qwen3-8b", input=QUESTION)
    assert answer.id == "resp_first" and answer.status == "completed"
    assert answer.output_text == "The answer is 4."
    reasoning = answer.output[0].content[0].text
    assert reasoning == "step0 step1 step2 step3 "  # 2 tokens each: the budget of 8
    assert answer.usage.output_tokens_details.reasoning_tokens == 8
    first, again = posts(upstream)
    assert "stream" not in first.json() or first.json()["stream"] is True
    assert again.json()["stream"] is True


def test_a_responses_budget_the_model_stays_within_makes_one_request(budgeted, upstream):
    upstream.reset(Scripted(think=3))
    events = list(
        client(budgeted, "50").responses.create(model="vllm-qwen3-8b", input=QUESTION, stream=True)
    )
    assert len(posts(upstream)) == 1
    assert reasoning_of(events) == ["step0 ", "step1 ", "step2 "]
    assert events[-1].response.usage.output_tokens_details.reasoning_tokens == 3 * 2
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_a_responses_budget_on_llamacpp_is_not_held_and_says_why(budgeted, upstream):
    upstream.reset(Scripted(think=3))
    list(client(budgeted, "5").responses.create(model="llamacpp-q", input=QUESTION, stream=True))
    assert len(posts(upstream)) == 1
    assert "no way known to continue a Responses answer on llamacpp" in budgeted.log()


@pytest.mark.parametrize("stream", [True, False])
def test_strip_mode_lets_no_reasoning_through_a_responses_cut(budgeted, upstream, stream):
    upstream.reset(Scripted())
    api = openai.OpenAI(base_url=f"{budgeted.url}/v1", api_key=KEY, max_retries=0, timeout=20,
                        default_headers={"X-Think-Budget": "4", "X-Think-Mode": "strip"})  # fmt: skip
    if stream:
        events = list(api.responses.create(model="vllm-qwen3-8b", input=QUESTION, stream=True))
        assert not reasoning_of(events)
        final = events[-1].response
    else:
        final = api.responses.create(model="vllm-qwen3-8b", input=QUESTION)
    assert final.output_text == "The answer is 4."
    assert "step" not in final.model_dump_json()
    assert len(posts(upstream)) == 2


def test_vllm_without_a_reasoning_parser_has_its_inline_thought_cut(budgeted, upstream):
    server = Scripted(inline=True)
    upstream.reset(server)
    events = list(client(budgeted, "20").responses.create(model="vllm-qwen3-8b", input=QUESTION,
                                                          stream=True))  # fmt: skip
    final = events[-1].response
    assert final.output_text.strip() == "The answer is 4."
    assert 0 < tokens(reasoning_of(events)) <= 20 + 16
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.id == "resp_first" and server.sent < STEPS
    _, again = posts(upstream)
    so_far = "\n" + "".join(f"step{i} " for i in range(9)) + "step"  # as the chat relay does
    assert again.json()["input"][-1] == {
        "type": "message", "role": "assistant", "status": "in_progress",
        "content": [{"type": "output_text",
                     "text": f"<think>\n{so_far}\n\n{MESSAGE}\n</think>\n\n"}],
    }  # fmt: skip
