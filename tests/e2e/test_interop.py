"""Reasoning interop end to end (issue 11): words, orphan end tags, end markers, cut-off implicit
thinking and the completions suffix, through the real proxy with the openai SDK."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from .test_core import KEY
from .upstream import Received
from .upstream import Reply
from .upstream import chat_chunk
from .upstream import chat_completion
from .upstream import sse_event

RULES_FILE = """
models:
  - model: implicit
    think_mode: reasoning
    think_implicit_start: true
  - model: implicit-answer
    think_implicit_start: true
    implicit_unclosed: answer
  - model: no-markers
    think_end_markers: []
  - model: kimi
    think_mode: reasoning
    think_tags: [["◁think▷", "◁/think▷"]]
    think_end_markers: ["<|tool_calls_section_begin|>"]
  - model: suffixed
    append_to_last_user_message: " /no_think"
  - model: reasoner
    think_mode: reasoning
  - model: both
    think_mode: reasoning
    reasoning_field: both
  - model: r1
    history: strip
  - model: v4
    history: to_field
  - model: inline
    think_mode: inline
  - model: qwen3
    params: {chat_template_kwargs: {enable_thinking: true}}
    variants:
      no-think:
        params: {chat_template_kwargs.enable_thinking: false}
      reasoning:
        think_mode: reasoning
"""


@pytest.fixture(scope="module")
def interop_proxy(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("interop") / "rules.yaml"
    path.write_text(RULES_FILE, encoding="utf-8")
    return start_proxy({"TARGET_BASE_URL": f"{upstream.url}/v1/", "CONFIG_FILE": str(path)})


def sdk(proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20)


def serve_chat(upstream, pieces: list[str], finish: str = "stop") -> None:
    """Streamed when the client asks for a stream, else one buffered answer of the same text."""

    async def handler(req: Received, reply: Reply) -> None:
        if req.json().get("stream"):
            events = [sse_event(chat_chunk("", role="assistant"))]
            events += [sse_event(chat_chunk(p)) for p in pieces]
            events += [sse_event(chat_chunk(None, finish=finish)), sse_event("[DONE]")]
            await reply.sse(events)
        else:
            body = chat_completion("".join(pieces))
            body["choices"][0]["finish_reason"] = finish
            await reply.json(200, body)

    upstream.reset(handler)


def ask(proxy, model: str, stream: bool) -> tuple[str, str]:
    """(content, reasoning_content) as the openai SDK delivers them."""
    client = sdk(proxy)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "q"}]
    if not stream:
        message = client.chat.completions.create(model=model, messages=messages).choices[0].message
        return message.content or "", (message.model_extra or {}).get("reasoning_content") or ""
    content = reasoning = ""
    for chunk in client.chat.completions.create(model=model, messages=messages, stream=True):
        if chunk.choices:
            delta = chunk.choices[0].delta
            content += delta.content or ""
            reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
    return content, reasoning


CASES = [
    # (model, pieces, finish, content, reasoning)
    ("m", ["normal between", "<think>x</think>", " final"], "stop", "normal between final", ""),
    ("m", ["Hello ", "<think>x</think> world"], "stop", "Hello world", ""),
    ("m", ["<think>plan</think>", "\n\nAnswer"], "stop", "Answer", ""),
    # orphan end tags: llama.cpp without the opening tag, a second end tag
    ("m", ["thoughts", "</think>", "\n\nAnswer"], "stop", "thoughts\n\nAnswer", ""),
    ("m", ["<think>a</think>", "b</think>", "c"], "stop", "bc", ""),
    # a tool call opened inside the block ends it and stays
    (
        "m",
        ["<think>I should call", " f<tool_", 'call>{"a":1}</tool_call>'],
        "tool_calls",
        '<tool_call>{"a":1}</tool_call>',
        "",
    ),
    ("no-markers", ["<think>call<tool_call>{}</tool_call>"], "stop", "", ""),
    (
        "kimi",
        ["◁think▷hm<|tool_calls_section_begin|>x"],
        "tool_calls",
        "<|tool_calls_section_begin|>x",
        "hm",
    ),
    # implicit start, no end tag: cut off while thinking (length) vs a plain answer
    (
        "implicit",
        ["I am thinking and then", " got cut"],
        "length",
        "",
        "I am thinking and then got cut",
    ),
    ("implicit", ["just an answer"], "stop", "just an answer", ""),
    ("implicit-answer", ["cut off", " here"], "length", "cut off here", ""),
    ("implicit", ["plan", "<tool_call>{}"], "tool_calls", "<tool_call>{}", "plan"),
    # the model wrote <think> itself under implicit start and never closed it: unclosed block
    ("implicit", ["<think>still", " thinking"], "stop", "", "still thinking"),
]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
@pytest.mark.parametrize(("model", "pieces", "finish", "content", "reasoning"), CASES)
def test_interop_rules(interop_proxy, upstream, stream, model, pieces, finish, content, reasoning):
    serve_chat(upstream, pieces, finish)
    assert ask(interop_proxy, model, stream) == (content, reasoning)


def test_suffix_on_completions_prompt(interop_proxy, upstream):
    seen: list[dict[str, Any]] = []

    async def handler(req: Received, reply: Reply) -> None:
        seen.append(req.json())
        choices = [
            {"index": i, "text": "<think>t</think>ok", "finish_reason": "stop", "logprobs": None}
            for i in range(2)
        ]
        await reply.json(200, {"id": "c", "object": "text_completion", "choices": choices})

    upstream.reset(handler)
    client = sdk(interop_proxy)
    completion = client.completions.create(model="suffixed", prompt="Say hi")
    assert completion.choices[0].text == "ok"
    client.completions.create(model="suffixed", prompt=["a", "b /no_think"])
    assert [body["prompt"] for body in seen] == ["Say hi /no_think", ["a /no_think", "b /no_think"]]
    assert json.dumps(seen).count("/no_think") == 3


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # vLLM >= 0.16 / Ollama send "reasoning": renamed to the configured reasoning_content
        ("reasoner", {"reasoning_content": "upstream\n\n<- mine", "reasoning": ""}),
        ("both", {"reasoning_content": "upstream\n\n<- mine", "reasoning": "upstream\n\n<- mine"}),
    ],
)
def test_reasoning_field_renamed_and_both(interop_proxy, upstream, stream, model, expected):
    async def handler(req: Received, reply: Reply) -> None:
        if req.json().get("stream"):
            events = [
                sse_event(chat_chunk("", role="assistant")),
                sse_event(chat_chunk(None, reasoning="upstream")),
                sse_event(chat_chunk("<think> <- mine</think>Answer")),
                sse_event(chat_chunk(None, finish="stop")),
                sse_event("[DONE]"),
            ]
            await reply.sse(events)
        else:
            body = chat_completion("<think> <- mine</think>Answer", reasoning="upstream")
            await reply.json(200, body)

    upstream.reset(handler)
    client = sdk(interop_proxy)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "q"}]
    got = {"content": "", "reasoning_content": "", "reasoning": ""}
    if stream:
        for chunk in client.chat.completions.create(model=model, messages=messages, stream=True):
            if chunk.choices:
                fields = {"content": chunk.choices[0].delta.content}
                fields.update(chunk.choices[0].delta.model_extra or {})
                for key in got:
                    got[key] += fields.get(key) or ""
    else:
        message = client.chat.completions.create(model=model, messages=messages).choices[0].message
        fields = {"content": message.content, **(message.model_extra or {})}
        got = {key: fields.get(key) or "" for key in got}
    assert got == {"content": "Answer", **expected}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("r1", {"role": "assistant", "content": "Hi!"}),
        ("v4", {"role": "assistant", "content": "Hi!", "reasoning_content": "greet\n\nthem"}),
        ("m", {"role": "assistant", "content": "<think> them</think>Hi!", "reasoning": "greet"}),
    ],
)
def test_history_strip_and_to_field(interop_proxy, upstream, model, expected):
    seen: list[dict[str, Any]] = []

    async def handler(req: Received, reply: Reply) -> None:
        seen.append(req.json())
        await reply.json(200, chat_completion("ok"))

    upstream.reset(handler)
    history = {"role": "assistant", "content": "<think> them</think>Hi!", "reasoning": "greet"}
    messages = [{"role": "user", "content": "hello"}, history, {"role": "user", "content": "q"}]
    answer = sdk(interop_proxy).chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "ok"
    assert seen[0]["messages"][1] == expected
    assert seen[0]["messages"][0] == {"role": "user", "content": "hello"}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("reasoning", ("Answer", "plan")),
        ("keep", ("<think>plan</think>Answer", "")),
        ("strip", ("Answer", "")),
    ],
)
def test_think_mode_header(interop_proxy, upstream, stream, mode, expected):
    seen: list[Received] = []

    async def handler(req: Received, reply: Reply) -> None:
        seen.append(req)
        if req.json().get("stream"):
            events = [sse_event(chat_chunk(p)) for p in ["<think>plan", "</think>Answer"]]
            await reply.sse(
                [*events, sse_event(chat_chunk(None, finish="stop")), sse_event("[DONE]")]
            )
        else:
            await reply.json(200, chat_completion("<think>plan</think>Answer"))

    upstream.reset(handler)
    client = sdk(interop_proxy).with_options(default_headers={"X-Think-Mode": mode})
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "q"}]
    if stream:
        content = reasoning = ""
        for chunk in client.chat.completions.create(model="m", messages=messages, stream=True):
            if chunk.choices:
                content += chunk.choices[0].delta.content or ""
                reasoning += (chunk.choices[0].delta.model_extra or {}).get(
                    "reasoning_content"
                ) or ""
        got = (content, reasoning)
    else:
        message = client.chat.completions.create(model="m", messages=messages).choices[0].message
        got = (message.content or "", (message.model_extra or {}).get("reasoning_content") or "")
    assert got == expected
    assert "x-think-mode" not in {k.lower() for k in seen[0].headers}


def test_unknown_think_mode_header_is_a_json_400(interop_proxy, upstream):
    client = sdk(interop_proxy).with_options(default_headers={"X-Think-Mode": "loud"})
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert caught.value.status_code == 400
    assert caught.value.code == "invalid_think_mode"
    assert (
        "X-Think-Mode must be one of strip, reasoning, keep, inline, not 'loud'"
        in caught.value.message
    )


def serve_reasoning(upstream, field: str, reasoning: list[str], answer: str) -> None:
    """The upstream split the reasoning off itself (vLLM, llama.cpp, DeepSeek...)."""

    async def handler(req: Received, reply: Reply) -> None:
        if req.json().get("stream"):
            events = [sse_event(chat_chunk("", role="assistant"))]
            split_off: list[dict[str, Any]] = [{field: r} for r in reasoning]
            events += [sse_event(chat_chunk(None, **delta)) for delta in split_off]
            if answer:
                events.append(sse_event(chat_chunk(answer)))
            events += [sse_event(chat_chunk(None, finish="stop")), sse_event("[DONE]")]
            await reply.sse(events)
        else:
            await reply.json(200, chat_completion(answer, **{field: "".join(reasoning)}))

    upstream.reset(handler)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "buffered"])
@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize(
    ("model", "headers"),
    [("inline", {}), ("m", {"X-Think-Mode": "inline"})],
    ids=["rule", "header"],
)
@pytest.mark.parametrize(
    ("reasoning", "answer", "content"),
    [
        (
            ["Let me", " think"],
            "Hi <think>mine</think>",
            "<think>Let me think</think>Hi <think>mine</think>",
        ),
        (["only thoughts"], "", "<think>only thoughts</think>"),
        ([], "<think>mine</think>plain", "<think>mine</think>plain"),
    ],
)
def test_inline_mode(
    interop_proxy, upstream, stream, field, model, headers, reasoning, answer, content
):
    serve_reasoning(upstream, field, reasoning, answer)
    client = sdk(interop_proxy).with_options(default_headers=headers)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "q"}]
    extra: dict[str, str] = {}
    if stream:
        got = ""
        for chunk in client.chat.completions.create(model=model, messages=messages, stream=True):
            if chunk.choices:
                got += chunk.choices[0].delta.content or ""
                extra.update(chunk.choices[0].delta.model_extra or {})
    else:
        message = client.chat.completions.create(model=model, messages=messages).choices[0].message
        got = message.content or ""
        extra = message.model_extra or {}
    assert got == content
    assert not {"reasoning_content", "reasoning"} & set(extra)  # moved, not copied


def test_variants_go_upstream_as_their_model_and_are_listed(interop_proxy, upstream):
    seen: list[dict[str, Any]] = []

    async def handler(req: Received, reply: Reply) -> None:
        if req.path.endswith("/models"):
            await reply.json(200, {"object": "list", "data": [{"id": "qwen3", "object": "model"}]})
            return
        seen.append(req.json())
        await reply.json(200, chat_completion("<think>plan</think>Answer"))

    upstream.reset(handler)
    client = sdk(interop_proxy)
    ids = [m.id for m in client.models.list()]
    assert ids == ["qwen3", "qwen3@no-think", "qwen3@reasoning"]
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "q"}]
    answers = {
        model: client.chat.completions.create(model=model, messages=messages).choices[0].message
        for model in ["qwen3", "qwen3@no-think", "qwen3@reasoning", "qwen3@other"]
    }
    assert [(body["model"], body.get("chat_template_kwargs")) for body in seen] == [
        ("qwen3", {"enable_thinking": True}),
        ("qwen3", {"enable_thinking": False}),
        ("qwen3", {"enable_thinking": True}),
        ("qwen3@other", None),  # no such variant: passed on unchanged
    ]
    assert answers["qwen3"].content == "Answer"
    assert answers["qwen3@reasoning"].content == "Answer"
    assert (answers["qwen3@reasoning"].model_extra or {})["reasoning_content"] == "plan"
