"""The reasoning memory (rule key `history_restore`), end to end: the official clients through the
real mitmdump, a scripted upstream that answers turn 1 with reasoning and a tool call, turn 2 sent
as the client really sends it (without the reasoning), and the exact body the upstream received.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import ollama
import openai
import pytest

from .fixtures_responses import vllm_sse
from .fixtures_responses import vllm_stream
from .messages_upstream import sse as messages_sse
from .messages_upstream import vllm_thinking_tool
from .ollama_fixtures import chat_line
from .ollama_fixtures import go_json
from .ollama_fixtures import ndjson
from .ollama_fixtures import ndjson_handler
from .ollama_fixtures import tool_call
from .upstream import Received
from .upstream import Reply
from .upstream import chat_chunk
from .upstream import sse_event

KEY_A = "sk-memory-A-0123456789"
KEY_B = "sk-memory-B-9876543210"
THOUGHT = "The user wants the weather in Paris, so I call get_weather."
ANSWER = "Let me look that up."
TOOLS_CHAT: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]

RULES = (
    "model=mem-*,history_restore=true;model=plain,history=keep;"
    "model=keep-*,history_restore=true,think_mode=keep"
)


def _turn(body: dict[str, Any]) -> int:
    """1 for the first request of a conversation, 2 once a tool result is in it."""
    text = json.dumps(body)
    return (
        2
        if (
            "tool_call_id" in text
            or "function_call_output" in text
            or "tool_result" in text
            or '"role": "tool"' in text
        )
        else 1
    )


# -- chat -----------------------------------------------------------------------------------------


async def chat_handler(req: Received, reply: Reply) -> None:
    body = req.json()
    if _turn(body) == 2:
        await reply.json(200, _chat_body("It is sunny.", None))
        return
    call = {
        "id": "call_w1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    if body.get("stream"):
        events = [sse_event(chat_chunk("", role="assistant"))]
        events += [
            sse_event(chat_chunk(p))
            for p in ("<think>", THOUGHT[:20], THOUGHT[20:], "</think>\n\n", ANSWER)
        ]
        events.append(sse_event(chat_chunk(None, tool_calls=[{"index": 0, **call}])))
        events.append(sse_event(chat_chunk(None, finish="tool_calls")))
        events.append(sse_event("[DONE]"))
        await reply.sse(events)
    else:  # the server split the reasoning off itself (vLLM --reasoning-parser)
        await reply.json(200, _chat_body(ANSWER, [call], reasoning_content=THOUGHT))


def _chat_body(content: str, calls: list[dict[str, Any]] | None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, **extra}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture(scope="module")
def memory_proxy(start_proxy, upstream):
    return start_proxy({"TARGET_BASE_URL": upstream.url, "LLM_PARAMS": RULES})


def _chat_conversation(proxy, upstream, model: str, key: str, stream: bool) -> dict[str, Any]:
    """Turn 1 and turn 2 as the openai client sends them; the assistant message of turn 2 as the
    upstream received it."""
    upstream.reset(chat_handler)
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, max_retries=0, timeout=20)
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        text, calls = "", dict[int, Any]()
        for chunk in client.chat.completions.create(
            model=model, messages=question, tools=TOOLS_CHAT, stream=True
        ):
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            text += delta.content or ""
            for call in delta.tool_calls or []:
                calls.setdefault(call.index, call)
        assistant = {
            "role": "assistant",
            "content": text,
            "tool_calls": [
                c.model_dump(exclude_none=True, exclude={"index"}) for c in calls.values()
            ],
        }
    else:
        first = client.chat.completions.create(model=model, messages=question, tools=TOOLS_CHAT)
        assistant = first.choices[0].message.model_dump(exclude_none=True)
        # What the SDK's own type keeps: reasoning_content is no field of it.
        assistant = {k: assistant[k] for k in ("role", "content", "tool_calls")}
    assert THOUGHT not in json.dumps(assistant)  # strip mode: the client never had it
    call_id = assistant["tool_calls"][0]["id"]
    second: Any = [
        *question,
        assistant,
        {"role": "tool", "tool_call_id": call_id, "content": "sunny"},
    ]
    answer = client.chat.completions.create(model=model, messages=second, tools=TOOLS_CHAT)
    assert answer.choices[0].message.content == "It is sunny."
    sent = upstream.received[-1].json()["messages"][1]
    return {"sent": sent, "assistant": assistant}


@pytest.mark.parametrize("stream", [True, False], ids=["stream-tags", "buffered-field"])
def test_chat_turn_two_gets_its_reasoning_back(memory_proxy, upstream, stream):
    got = _chat_conversation(memory_proxy, upstream, "mem-chat", KEY_A, stream)
    assert got["sent"] == {**got["assistant"], "reasoning_content": THOUGHT}
    memory_proxy.wait_log("history: restored 1 turns")
    log = memory_proxy.log()
    assert THOUGHT not in log and KEY_A not in log


def test_keep_mode_remembers_what_the_sdk_dropped(memory_proxy, upstream):
    """Keep mode changes nothing in the answer; the openai SDK still drops reasoning_content."""
    got = _chat_conversation(memory_proxy, upstream, "keep-chat", KEY_A, False)
    assert got["sent"] == {**got["assistant"], "reasoning_content": THOUGHT}


def test_keep_mode_stream_with_the_think_block_dropped_by_the_client(memory_proxy, upstream):
    """Keep mode streams the think block in the content; a client that drops it from the history
    (as Open WebUI does) gets it back in the reasoning field; one that keeps it gets nothing."""
    upstream.reset(chat_handler)
    client = openai.OpenAI(base_url=f"{memory_proxy.url}/v1", api_key=KEY_A, max_retries=0)
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    text, call_id = "", ""
    for chunk in client.chat.completions.create(
        model="keep-stream", messages=question, tools=TOOLS_CHAT, stream=True
    ):
        delta = chunk.choices[0].delta if chunk.choices else None
        if delta is not None:
            text += delta.content or ""
            call_id = next((c.id for c in delta.tool_calls or [] if c.id), call_id)
    assert text == f"<think>{THOUGHT}</think>\n\n{ANSWER}"  # keep: as the model wrote it
    calls = [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    for content, restored in ((text, False), (ANSWER, True)):
        assistant = {"role": "assistant", "content": content, "tool_calls": calls}
        second: Any = [
            *question,
            assistant,
            {"role": "tool", "tool_call_id": call_id, "content": "sunny"},
        ]
        client.chat.completions.create(model="keep-stream", messages=second, tools=TOOLS_CHAT)
        sent = upstream.received[-1].json()["messages"][1]
        assert sent == ({**assistant, "reasoning_content": THOUGHT} if restored else assistant)


def test_chat_without_the_rule_key_restores_nothing(memory_proxy, upstream):
    got = _chat_conversation(memory_proxy, upstream, "plain", KEY_A, True)
    assert got["sent"] == got["assistant"]


def test_another_credential_never_gets_it(memory_proxy, upstream):
    _chat_conversation(memory_proxy, upstream, "mem-cred", KEY_A, True)
    # B replays A's turn 2 word for word (same text, same tool-call id): no reasoning for B.
    client = openai.OpenAI(base_url=f"{memory_proxy.url}/v1", api_key=KEY_B, max_retries=0)
    replay = upstream.received[-1].json()
    assistant = dict(replay["messages"][1])
    assert assistant.pop("reasoning_content") == THOUGHT
    messages: Any = [replay["messages"][0], assistant, replay["messages"][2]]
    client.chat.completions.create(model="mem-cred", messages=messages)
    assert upstream.received[-1].json()["messages"][1] == assistant
    # and A, once more, still gets it
    client_a = openai.OpenAI(base_url=f"{memory_proxy.url}/v1", api_key=KEY_A, max_retries=0)
    client_a.chat.completions.create(model="mem-cred", messages=messages)
    assert upstream.received[-1].json()["messages"][1]["reasoning_content"] == THOUGHT


def test_another_model_never_gets_it(memory_proxy, upstream):
    _chat_conversation(memory_proxy, upstream, "mem-one", KEY_A, False)
    replay = upstream.received[-1].json()
    assistant: Any = dict(replay["messages"][1])
    del assistant["reasoning_content"]
    client = openai.OpenAI(base_url=f"{memory_proxy.url}/v1", api_key=KEY_A, max_retries=0)
    client.chat.completions.create(
        model="mem-two", messages=[replay["messages"][0], assistant, replay["messages"][2]]
    )
    assert "reasoning_content" not in upstream.received[-1].json()["messages"][1]


# -- Responses ------------------------------------------------------------------------------------


def _response(output: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "m",
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 1,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 2,
        },
    }


async def responses_handler(req: Received, reply: Reply) -> None:
    if _turn(req.json()) == 2:
        await reply.json(
            200,
            _response(
                [
                    {
                        "type": "message",
                        "id": "msg_2",
                        "role": "assistant",
                        "status": "completed",
                        "content": [
                            {"type": "output_text", "text": "It is sunny.", "annotations": []}
                        ],
                    }
                ]
            ),
        )
        return
    await reply.json(
        200,
        _response(
            [
                {
                    "type": "reasoning",
                    "id": "rs_up1",
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": THOUGHT}],
                },
                {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "call_r1",
                    "name": "get_weather",
                    "arguments": '{"city":"Paris"}',
                    "status": "completed",
                },
            ]
        ),
    )


def test_responses_turn_two_gets_a_reasoning_item_back(memory_proxy, upstream):
    upstream.reset(responses_handler)
    client = openai.OpenAI(base_url=f"{memory_proxy.url}/v1", api_key=KEY_A, max_retries=0)
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.responses.create(model="mem-resp", input=question, tools=tools)
    output = [item.model_dump(exclude_none=True) for item in first.output]
    assert [item["type"] for item in output] == ["function_call"]  # strip: no reasoning item
    second: Any = [
        *question,
        *output,
        {"type": "function_call_output", "call_id": "call_r1", "output": "sunny"},
    ]
    client.responses.create(model="mem-resp", input=second, tools=tools)
    sent = upstream.received[-1].json()["input"]
    assert sent[0] == question[0] and sent[2:] == second[1:]
    item = sent[1]
    assert item["type"] == "reasoning" and item["id"].startswith("rs_")
    assert item["content"] == [{"type": "reasoning_text", "text": THOUGHT}]


async def responses_stream_handler(req: Received, reply: Reply) -> None:
    if _turn(req.json()) == 2:
        await responses_handler(req, reply)
        return
    events = vllm_stream(
        reasoning=[THOUGHT[:9], THOUGHT[9:]],
        text=[ANSWER],
        calls=[("get_weather", ['{"city":', '"Paris"}'])],
    )
    await reply.sse([vllm_sse(events)])


def test_responses_stream_turn_two_gets_a_reasoning_item_back(memory_proxy, upstream):
    upstream.reset(responses_stream_handler)
    client = openai.OpenAI(base_url=f"{memory_proxy.url}/v1", api_key=KEY_A, max_retries=0)
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    with client.responses.stream(model="mem-resp-s", input=question, tools=tools) as stream:
        first = stream.get_final_response()
    output = [item.model_dump(exclude_none=True) for item in first.output]
    assert [item["type"] for item in output] == ["message", "function_call"]
    call_id = output[1]["call_id"]
    second: Any = [
        *question,
        *output,
        {"type": "function_call_output", "call_id": call_id, "output": "sunny"},
    ]
    client.responses.create(model="mem-resp-s", input=second, tools=tools)
    sent = upstream.received[-1].json()["input"]
    assert [item.get("type") for item in sent[1:4]] == ["reasoning", "message", "function_call"]
    assert sent[1]["content"] == [{"type": "reasoning_text", "text": THOUGHT}]
    assert sent[2:] == second[1:]


# -- Anthropic Messages ---------------------------------------------------------------------------


async def messages_handler(req: Received, reply: Reply) -> None:
    if _turn(req.json()) == 2:
        await reply.json(
            200,
            {
                "id": "msg_2",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [{"type": "text", "text": "It is sunny."}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        )
        return
    events = vllm_thinking_tool([THOUGHT[:30], THOUGHT[30:]], [ANSWER], ['{"city":', '"Paris"}'])
    await reply.sse([messages_sse(events)])


def test_messages_turn_two_gets_a_thinking_block_back(memory_proxy, upstream):
    upstream.reset(messages_handler)
    client = anthropic.Anthropic(base_url=memory_proxy.url, api_key=KEY_A, max_retries=0)
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    tools: Any = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    with client.messages.stream(
        model="mem-msg", max_tokens=100, messages=question, tools=tools
    ) as stream:
        message = stream.get_final_message()
    content = [block.model_dump(exclude_none=True) for block in message.content]
    assert [block["type"] for block in content] == ["text", "tool_use"]
    second: Any = [
        *question,
        {"role": "assistant", "content": content},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": content[1]["id"], "content": "sunny"}
            ],
        },
    ]
    client.messages.create(model="mem-msg", max_tokens=100, messages=second, tools=tools)
    sent = upstream.received[-1].json()["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": THOUGHT, "signature": ""}, *content],
    }
    assert sent[2] == second[2]


# -- Ollama native --------------------------------------------------------------------------------


async def ollama_handler(req: Received, reply: Reply) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if _turn(req.json()) == 2:
        await reply.body(200, go_json(chat_line("It is sunny.", done_reason="stop")), headers)
        return
    line = chat_line(
        ANSWER,
        thinking=THOUGHT,
        done_reason="stop",
        tool_calls=[tool_call("get_weather", city="Paris")],
    )
    await reply.body(200, go_json(line), headers)


def test_ollama_turn_two_gets_its_thinking_back(memory_proxy, upstream):
    upstream.reset(ollama_handler)
    client = ollama.Client(
        host=memory_proxy.url, timeout=20, headers={"Authorization": f"Bearer {KEY_A}"}
    )
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat(model="mem-ollama", messages=question)
    assert not first.message.thinking
    second: Any = [
        *question,
        first.message,
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    ]
    client.chat(model="mem-ollama", messages=second)
    sent = upstream.received[-1].json()["messages"][1]
    assert sent["thinking"] == THOUGHT
    assert sent["content"] == ANSWER
    assert sent["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}


async def ollama_stream_handler(req: Received, reply: Reply) -> None:
    if _turn(req.json()) == 2:
        await ollama_handler(req, reply)
        return
    lines = [
        chat_line(step=0, thinking=THOUGHT[:10]),
        chat_line(step=1, thinking=THOUGHT[10:]),
        chat_line(ANSWER, step=2),
        chat_line(step=3, tool_calls=[tool_call("get_weather", city="Paris")]),
        chat_line(step=4, done_reason="stop"),
    ]
    await ndjson_handler(ndjson(lines))(req, reply)


def test_ollama_stream_turn_two_gets_its_thinking_back(memory_proxy, upstream):
    upstream.reset(ollama_stream_handler)
    client = ollama.Client(
        host=memory_proxy.url, timeout=20, headers={"Authorization": f"Bearer {KEY_A}"}
    )
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    content, calls = "", list[Any]()
    for part in client.chat(model="mem-ollama-s", messages=question, stream=True):
        assert not part.message.thinking
        content += part.message.content or ""
        calls += part.message.tool_calls or []
    assistant = {"role": "assistant", "content": content, "tool_calls": calls}
    second: Any = [
        *question,
        assistant,
        {"role": "tool", "content": "sunny", "tool_name": "get_weather"},
    ]
    client.chat(model="mem-ollama-s", messages=second)
    sent = upstream.received[-1].json()["messages"][1]
    assert sent["thinking"] == THOUGHT and sent["content"] == ANSWER
