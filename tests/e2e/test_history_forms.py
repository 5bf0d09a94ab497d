"""The history forms and turns end to end (issue 22): the official openai and anthropic clients
send a tool-calling conversation back through the real mitmdump, and the scripted upstream
records the exact body it received.

Turn 1 reasoned and called a tool, turn 2 reasoned and answered after the tool's result; the
client sends both back with their reasoning in its own place (chat `reasoning_content`, a
Messages `thinking` block, a Responses `reasoning` item, Ollama's `thinking`), as the proxy's
restore step will put it too.
"""

from __future__ import annotations

from typing import Any

import anthropic
import ollama
import openai
import pytest

from .test_core import KEY
from .test_reasoning_memory import THOUGHT
from .test_reasoning_memory import _chat_conversation
from .test_rules_formats import MESSAGE
from .test_rules_formats import OLLAMA_CHAT
from .test_rules_formats import RESPONSE
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion

RULES_FILE = """
models:
  - model: minimax-m2       # the minimax family's preset: history to_inline
    think_family: minimax
  - model: gemma-4          # the gemma4 family's preset: history_turns tool_calls
    think_family: gemma4
  - model: agent
    history: to_inline
    history_turns: tool_calls
"""

CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
USE = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}


@pytest.fixture(scope="module")
def history_proxy(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("history-forms") / "rules.yaml"
    path.write_text(RULES_FILE)
    return start_proxy({"TARGET_BASE_URL": upstream.url, "CONFIG_FILE": str(path)})


async def answer(req: Received, reply: Reply) -> None:
    if req.path.endswith("/messages"):
        await reply.json(200, MESSAGE)
    elif req.path.endswith("/responses"):
        await reply.json(200, RESPONSE)
    elif req.path.endswith("/api/chat"):
        await reply.json(200, OLLAMA_CHAT)
    else:
        await reply.json(200, chat_completion("ok"))


@pytest.fixture
def answering(upstream):
    upstream.reset(answer)
    return upstream


def received(upstream) -> dict[str, Any]:
    (request,) = upstream.received
    return request.json()


def chat_history() -> list[Any]:
    return [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": "Ask."},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny.", "reasoning_content": "It said sun."},
        {"role": "user", "content": "Thanks."},
    ]


def send_chat(proxy, model: str) -> None:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20)
    answer = client.chat.completions.create(model=model, messages=chat_history())
    assert answer.choices[0].message.content == "ok"


def test_chat_to_inline_from_the_family_preset(history_proxy, answering):
    send_chat(history_proxy, "minimax-m2")
    assert received(answering) == {
        "model": "minimax-m2",
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "<think>Ask.</think>", "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "assistant", "content": "<think>It said sun.</think>\n\nIt is sunny."},
            {"role": "user", "content": "Thanks."},
        ],
    }
    history_proxy.wait_log("history: think moved inline in 2 assistant message(s)")


def test_chat_tool_calls_turns_from_the_family_preset(history_proxy, answering):
    send_chat(history_proxy, "gemma-4")
    sent = chat_history()
    del sent[3]["reasoning_content"]  # a turn without tool calls loses it; the other keeps it
    assert received(answering) == {"model": "gemma-4", "messages": sent}


def messages_history() -> list[Any]:
    return [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "Ask.", "signature": "sig1"}, USE],
        },
        {"role": "user", "content": [RESULT]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "It said sun.", "signature": "sig2"},
                {"type": "text", "text": "It is sunny."},
            ],
        },
        {"role": "user", "content": "Thanks."},
    ]


def send_messages(proxy, model: str) -> None:
    client = anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=20)
    message = client.messages.create(model=model, max_tokens=100, messages=messages_history())
    assert message.content[0].text == "ok"


def test_messages_to_inline_on_tool_call_turns(history_proxy, answering):
    send_messages(history_proxy, "agent")
    assert received(answering) == {
        "model": "agent",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "<think>Ask.</think>"}, USE],
            },
            {"role": "user", "content": [RESULT]},
            {"role": "assistant", "content": [{"type": "text", "text": "It is sunny."}]},
            {"role": "user", "content": "Thanks."},
        ],
    }
    history_proxy.wait_log("history: think removed from 1 assistant message(s)")


def test_messages_tool_calls_turns_keep_their_blocks_as_sent(history_proxy, answering):
    send_messages(history_proxy, "gemma-4")
    sent = messages_history()
    del sent[3]["content"][0]  # the text turn's thinking block goes; the tool turn's stays
    assert received(answering) == {"model": "gemma-4", "max_tokens": 100, "messages": sent}


def reasoning(rid: str, text: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": rid,
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    }


def test_responses_to_inline_on_tool_call_turns(history_proxy, answering):
    call = {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
    part = {"type": "output_text", "text": "It is sunny.", "annotations": []}
    message = {"type": "message", "role": "assistant", "id": "msg_1", "content": [part]}
    client = openai.OpenAI(base_url=f"{history_proxy.url}/v1", api_key=KEY, max_retries=0)
    sent: list[Any] = [
        {"role": "user", "content": "Weather?"},
        reasoning("rs_1", "Ask."),
        call,
        output,
        reasoning("rs_2", "It said sun."),
        message,
        {"role": "user", "content": "Thanks."},
    ]
    assert client.responses.create(model="agent", input=sent).output_text == "ok"
    inline = {"type": "message", "role": "assistant", "content": "<think>Ask.</think>"}
    assert received(answering) == {
        "model": "agent",
        "input": [sent[0], inline, call, output, message, sent[6]],
    }


def test_ollama_tool_calls_turns_from_the_family_preset(history_proxy, answering):
    call = {"function": {"name": "weather", "arguments": {}}}
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "thinking": "Ask.", "tool_calls": [call]},
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny.", "thinking": "It said sun."},
        {"role": "user", "content": "Thanks."},
    ]
    client = ollama.Client(host=history_proxy.url, timeout=20)
    assert client.chat(model="gemma-4", messages=history, stream=False).message.content == "ok"
    del history[1]["content"]  # the ollama client leaves an empty content out
    del history[3]["thinking"]  # the text turn loses it; the tool turn keeps it
    assert received(answering)["messages"] == history


# -- family presets with the reasoning memory: restored, then put in the family's form -----------


@pytest.fixture(scope="module")
def preset_proxy(start_proxy, upstream):
    # No history key and no history_restore: the family's (or the name's) preset says them.
    return start_proxy(
        {"TARGET_BASE_URL": upstream.url, "LLM_PARAMS": "model=mm-chat,think_family=minimax"}
    )


@pytest.mark.parametrize("stream", [True, False], ids=["stream-tags", "buffered-field"])
def test_minimax_preset_restores_the_dropped_reasoning_inline(preset_proxy, upstream, stream):
    got = _chat_conversation(preset_proxy, upstream, "mm-chat", KEY, stream)
    block = f"<think>{THOUGHT}</think>"
    content = got["assistant"]["content"]
    assert got["sent"] == {
        **got["assistant"],
        "content": f"{block}\n\n{content}" if content else block,
    }
    preset_proxy.wait_log("history: restored 1 turns")


def test_deepseek_name_preset_restores_the_field_on_the_tool_call_turn(preset_proxy, upstream):
    got = _chat_conversation(preset_proxy, upstream, "deepseek-v4-flash", KEY, False)
    assert got["sent"] == {**got["assistant"], "reasoning_content": THOUGHT}
