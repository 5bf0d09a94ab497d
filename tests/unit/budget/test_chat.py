"""The budget's merge of two streams into one answer (cot_proxy.budget.chat and .ollama):
any split of either upstream stream gives the same client answer; the reasoning the client
gets stays within the budget; the answer is never lost."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cot_proxy.budget.chat import ChatSession
from cot_proxy.budget.count import InlineTags
from cot_proxy.budget.count import cost
from cot_proxy.budget.ollama import OllamaSession
from cot_proxy.budget.relay import Session


def chunk(
    delta: dict[str, Any], finish: str | None = None, *, second: bool = False
) -> dict[str, Any]:
    """vLLM's chat chunk (vllm/entrypoints/openai/protocol.py ChatCompletionStreamResponse)."""
    return {
        "id": "c2" if second else "c1",
        "object": "chat.completion.chunk",
        "created": 2 if second else 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def sse(obj: Any) -> bytes:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode()


USAGE = {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 34}
FIRST = b"".join(
    [sse(chunk({"role": "assistant", "content": ""}))]
    + [
        sse(chunk({"reasoning": w}))
        for w in ["Let", " me", " think", " about", " this carefully", " now", " and", " more"]
    ]  # fmt: skip
    + [sse(chunk({"content": "late"})), sse(chunk({}, "stop")), sse("[DONE]")]
)
SECOND = b"".join(
    [
        sse(chunk({"role": "assistant", "content": ""}, second=True)),
        sse(chunk({"reasoning": "Four"}, second=True)),  # a parser that misfiles the answer
        sse(chunk({"reasoning": "."}, second=True)),
        sse(chunk({}, "stop", second=True)),
        sse({**chunk({}, second=True), "choices": [], "usage": USAGE}),
        sse("[DONE]"),
    ]
)


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def run(session: Session, first: list[bytes], second: list[bytes]) -> bytes:
    out = b""
    for piece in first:
        out += session.first(piece)
        if session.forced:
            break
    if session.forced:
        session.restart()
        for piece in second:
            out += session.second(piece)
    return out + session.finish()


def events(out: bytes) -> list[Any]:
    return [
        json.loads(e[6:]) if e[6:] != b"[DONE]" else "[DONE]"
        for e in out.split(b"\n\n")
        if e.startswith(b"data: ")
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 5000), max_size=12),
    st.lists(st.integers(0, 5000), max_size=8),
    st.sampled_from([True, False]),
    st.integers(1, 12),
)
def test_any_split_of_either_stream_gives_the_same_answer(a, b, streamed, budget):
    whole = run(ChatSession(budget, streamed=streamed, tags=None), [FIRST], [SECOND])
    split = run(
        ChatSession(budget, streamed=streamed, tags=None), splits(FIRST, a), splits(SECOND, b)
    )
    assert split == whole


def test_the_forced_stream_is_one_answer():
    session = ChatSession(4, streamed=True, tags=None)
    got = events(run(session, [FIRST], [SECOND]))
    assert got[-1] == "[DONE]"
    chunks = [e for e in got if e != "[DONE]"]
    assert {(c["id"], c["created"]) for c in chunks} == {("c1", 1)}
    reasoning = [c["choices"][0]["delta"].get("reasoning") for c in chunks if c["choices"]]
    assert "".join(r or "" for r in reasoning) == "Let me think"
    assert sum(cost(r) for r in reasoning if r) <= 4
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == "Four."
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [f for f in finishes if f] == ["stop"]
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38,
        "completion_tokens_details": {"reasoning_tokens": 4},
    }  # fmt: skip
    assert session.reasoning == ["Let", " me", " think"]


def test_a_continuation_that_thinks_before_answering_keeps_at_most_the_slack():
    second = b"".join(
        [sse(chunk({"reasoning": "x" * 400}, second=True)), sse(chunk({"content": "Four."}, second=True)),
         sse(chunk({}, "stop", second=True))]
    )  # fmt: skip
    answer = json.loads(run(ChatSession(4, streamed=False, tags=None), [FIRST], [second]))
    message = answer["choices"][0]["message"]
    assert message["content"] == "Four."
    assert message["reasoning"] == "Let me think" + "x" * 16 * 4


def test_a_continuation_cut_by_length_in_its_thought_shows_none_of_it():
    second = sse(chunk({"reasoning": "still thinking"}, second=True)) + sse(
        chunk({}, "length", second=True)
    )
    answer = json.loads(run(ChatSession(4, streamed=False, tags=None), [FIRST], [second]))
    message = answer["choices"][0]["message"]
    assert message["content"] == "" and message["reasoning"] == "Let me think"
    assert answer["choices"][0]["finish_reason"] == "length"


def test_a_long_delta_is_cut_to_what_fits():
    session = ChatSession(3, streamed=True, tags=None)
    out = session.first(sse(chunk({"reasoning_content": "x" * 40})))
    assert session.forced
    (got,) = events(out)
    assert got["choices"][0]["delta"]["reasoning_content"] == "x" * 12
    assert got["choices"][0]["finish_reason"] is None


def test_within_the_budget_the_events_pass_as_they_came():
    session = ChatSession(100, streamed=True, tags=None)
    out = run(session, [FIRST], [SECOND])
    assert out == FIRST and not session.forced


def test_within_the_budget_the_usage_gets_the_reasoning_count():
    stream = FIRST.replace(b"data: [DONE]", b"data: " + json.dumps(
        {**chunk({}), "choices": [], "usage": USAGE}).encode() + b"\n\ndata: [DONE]")  # fmt: skip
    got = events(run(ChatSession(100, streamed=True, tags=None), [stream], []))
    assert got[-2]["usage"]["completion_tokens_details"] == {
        "reasoning_tokens": 14
    }  # 1+1+2+2+4+1+1+2


def test_reported_reasoning_tokens_are_kept():
    usage = {**USAGE, "completion_tokens_details": {"reasoning_tokens": 3}}
    stream = sse({**chunk({}), "choices": [], "usage": usage})
    got = events(ChatSession(100, streamed=True, tags=None).first(stream))
    assert got[0]["usage"] == usage


def test_inline_tags_are_closed_at_the_cut():
    stream = b"".join(
        sse(chunk({"content": p})) for p in ["<th", "ink>", "a b c d e f g", "</think>"]
    )
    session = ChatSession(2, streamed=True, tags=("<think>", "</think>"))
    got = events(session.first(stream))
    assert "".join(e["choices"][0]["delta"]["content"] for e in got) == "<think>a b c d </think>"
    assert session.forced and session.reasoning == ["a b c d "]


def test_a_continuation_that_thinks_again_keeps_at_most_the_slack():
    session = ChatSession(1, streamed=False, tags=("<think>", "</think>"))
    run(session, [sse(chunk({"content": "<think>aaaa bbbb"}))],
        [sse(chunk({"content": "<think>" + "y" * 200 + "</think>Done"}, second=True))])  # fmt: skip
    answer = session.buffered()
    content = answer["choices"][0]["message"]["content"]
    assert content.endswith("</think>Done")
    assert content.count("y") == 16 * 4


def test_the_buffered_answer_is_a_chat_completion():
    session = ChatSession(4, streamed=False, tags=None)
    answer = json.loads(run(session, [FIRST], [SECOND]))
    assert answer["id"] == "c1" and answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {
        "role": "assistant", "content": "Four.", "reasoning": "Let me think"
    }  # fmt: skip
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4


def ndjson(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\n"


DONE: dict[str, Any] = {"done_reason": "stop", "prompt_eval_count": 12, "eval_count": 5}
OLLAMA_FIRST = b"".join(
    ndjson({"model": "q", "created_at": "t", "message": {"role": "assistant", "content": "",
            "thinking": w}, "done": False}) for w in ["Hmm", " so", " then", " well", " ok"]
)  # fmt: skip
OLLAMA_SECOND = ndjson(
    {"model": "q", "created_at": "t2", "message": {"role": "assistant", "content": "Four"}, "done": False}
) + ndjson({"model": "q", "created_at": "t3", "message": {"role": "assistant", "content": ""},
            "done": True, **DONE})  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 3000), max_size=10),
    st.lists(st.integers(0, 3000), max_size=6),
    st.sampled_from([True, False]),
)
def test_ollama_any_split_gives_the_same_answer(a, b, streamed):
    whole = run(OllamaSession(2, streamed=streamed), [OLLAMA_FIRST], [OLLAMA_SECOND])
    split = run(
        OllamaSession(2, streamed=streamed), splits(OLLAMA_FIRST, a), splits(OLLAMA_SECOND, b)
    )
    assert split == whole


def test_ollama_forced_answer():
    session = OllamaSession(2, streamed=False)
    answer = json.loads(run(session, [OLLAMA_FIRST], [OLLAMA_SECOND]))
    assert answer["message"] == {"role": "assistant", "content": "Four", "thinking": "Hmm so"}
    assert answer["done"] is True and answer["eval_count"] == 5 + 2
    assert answer["model"] == "q"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=40),
    st.integers(1, 60),
    st.booleans(),
    st.text(max_size=300),
)
def test_never_more_than_the_budget_and_sixteen(deltas, budget, inline, again):
    """Whatever the deltas, the client gets at most budget (first answer) + 16 (a continuation
    that thinks again) tokens of reasoning, counted as the proxy counts; the answer stays."""
    tags = ("<think>", "</think>") if inline else None
    if inline:
        first = [sse(chunk({"content": "<think>"}))] + [sse(chunk({"content": d.replace("<", "")}))
                                                        for d in deltas]  # fmt: skip
    else:
        first = [sse(chunk({"reasoning_content": d})) for d in deltas]
    rethink = "<think>" + again.replace("<", "") + "</think>Answer."
    second = sse(chunk({"content": rethink}, second=True)) + sse(chunk({}, "stop", second=True))
    session = ChatSession(budget, streamed=True, tags=tags)
    out = events(run(session, first, [second]))
    seen = InlineTags("<think>", "</think>")
    thought = 0
    for event in out:
        if event == "[DONE]" or not event["choices"]:
            continue
        delta = event["choices"][0]["delta"]
        if delta.get("reasoning_content"):
            thought += cost(delta["reasoning_content"])
        for kind, piece in seen.split(delta.get("content") or ""):
            thought += cost(piece) if kind == "think" else 0
    assert thought <= budget + 16
    if session.forced:
        assert "".join(e["choices"][0]["delta"].get("content") or "" for e in out
                       if e != "[DONE]" and e["choices"]).endswith("Answer.")  # fmt: skip


def ollama_line(content: str = "", thinking: str = "", **done: Any) -> bytes:
    message = {
        "role": "assistant",
        "content": content,
        **({"thinking": thinking} if thinking else {}),
    }
    return ndjson(
        {"model": "q2", "created_at": "t", "message": message, "done": bool(done), **done}
    )


def test_ollama_continuation_thought_and_misfiled_answer():
    thinks = ollama_line(thinking="y" * 400) + ollama_line("Four") + ollama_line(**DONE)
    answer = json.loads(run(OllamaSession(2, streamed=False), [OLLAMA_FIRST], [thinks]))
    assert answer["message"] == {
        "role": "assistant",
        "content": "Four",
        "thinking": "Hmm so" + "y" * 64,
    }
    misfiled = ollama_line(thinking="Four") + ollama_line(**DONE)
    answer = json.loads(run(OllamaSession(2, streamed=False), [OLLAMA_FIRST], [misfiled]))
    assert answer["message"]["content"] == "Four"
    cut = ollama_line(thinking="more") + ollama_line(**{**DONE, "done_reason": "length"})
    answer = json.loads(run(OllamaSession(2, streamed=False), [OLLAMA_FIRST], [cut]))
    assert answer["message"] == {"role": "assistant", "content": "", "thinking": "Hmm so"}
