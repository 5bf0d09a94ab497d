"""The budget's merge of two legacy completions streams (cot_proxy.budget.completions): any split
of either stream gives the same answer; the thought, inline in `text`, is cut at the budget and
closed with the family's end tag; the continuation's text follows under the first's id; the
usage is summed. Chunks as vLLM sends them (vllm/entrypoints/openai/protocol.py
CompletionStreamResponse; usage in a last chunk with `choices: []` under include_usage)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.budget.completions import CompletionsSession
from cot_proxy.budget.continuation import continuation_body
from tests.unit.budget.test_chat import run
from tests.unit.budget.test_chat import splits
from tests.unit.budget.test_chat import sse

TAGS = ("<think>", "</think>")
USAGE = {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 34}


def chunk(text: str, finish: str | None = None, *, second: bool = False) -> dict[str, Any]:
    return {"id": "cmpl-2" if second else "cmpl-1", "object": "text_completion",
            "created": 2 if second else 1, "model": "m",
            "choices": [{"index": 0, "text": text, "logprobs": None,
                         "finish_reason": finish}]}  # fmt: skip


def usage_chunk(second: bool) -> dict[str, Any]:
    return {**chunk("", second=second), "choices": [], "usage": USAGE}


WORDS = ["<th", "ink>", "Let", " me", " think", " about", " this", "</think>", "\n\nlate"]
FIRST = b"".join([*(sse(chunk(w)) for w in WORDS), sse(chunk("", "stop")), sse(usage_chunk(False)),
                  sse("[DONE]")])  # fmt: skip
SECOND = b"".join([sse(chunk("Four", second=True)), sse(chunk(".", "stop", second=True)),
                   sse(usage_chunk(True)), sse("[DONE]")])  # fmt: skip


def texts(out: bytes) -> str:
    chunks = [json.loads(line[6:]) for line in out.decode().split("\n")
              if line.startswith("data: {")]  # fmt: skip
    return "".join(c["choices"][0]["text"] for c in chunks if c["choices"])


def session(budget: int, streamed: bool = True, inside: bool = False) -> CompletionsSession:
    return CompletionsSession(budget, streamed=streamed, tags=TAGS, inside=inside)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.integers(0, 3000), max_size=12),
    st.lists(st.integers(0, 1000), max_size=8),
    st.sampled_from([True, False]),
    st.integers(1, 10),
)
def test_any_split_of_either_stream_gives_the_same_answer(a, b, streamed, budget):
    whole = run(session(budget, streamed), [FIRST], [SECOND])
    split = run(session(budget, streamed), splits(FIRST, a), splits(SECOND, b))
    assert split == whole


def test_the_thought_is_cut_and_closed_and_the_continuation_follows():
    s = session(2)
    out = run(s, [FIRST], [SECOND])
    assert texts(out) == "<think>Let me</think>Four."
    assert "".join(s.reasoning) == "<think>Let me"  # the text so far, for the continuation
    assert b'"id": "cmpl-2"' not in out and out.endswith(b"data: [DONE]\n\n")
    last = json.loads(out.split(b"data: ")[-2])
    assert last["usage"]["completion_tokens"] == 4 + 2
    assert last["usage"]["completion_tokens_details"] == {"reasoning_tokens": 2}


def test_a_prompt_that_opened_the_thought_counts_from_the_first_text():
    first = b"".join(sse(chunk(w)) for w in ["Hmm", " so", " yes", "</think>", "4"])
    out = run(session(1, inside=True), [first], [SECOND])
    assert texts(out) == "Hmm</think>Four."


def test_a_buffered_answer_is_one_text_completion():
    answer = json.loads(run(session(2, streamed=False), [FIRST], [SECOND]))
    assert answer["id"] == "cmpl-1" and answer["object"] == "text_completion"
    assert answer["choices"] == [{"index": 0, "text": "<think>Let me</think>Four.",
                                  "logprobs": None, "finish_reason": "stop"}]  # fmt: skip


def test_within_the_budget_the_stream_passes_unchanged_but_its_usage():
    s = session(100)
    out = run(s, [FIRST], [SECOND])
    assert not s.forced
    usage = b'"choices": []'
    assert out.split(usage)[0] == FIRST.split(usage)[0]  # passed on as it came
    assert json.loads(out.split(b"data: ")[-2])["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": 1 + 1 + 2 + 2 + 2  # one a delta, one per 4 characters of a longer
    }


def test_the_continuation_is_the_prompt_and_the_text_so_far():
    body = {"model": "m", "prompt": "Q: 2+2?\nA: ", "max_tokens": 99, "stream": False}
    again = continuation_body(body, "vllm", "completions", "<think>Let me", "Answer now.", TAGS)
    assert again == {"model": "m", "max_tokens": 99, "stream": True,
                     "prompt": "Q: 2+2?\nA: <think>Let me\n\nAnswer now.\n</think>\n\n"}  # fmt: skip
