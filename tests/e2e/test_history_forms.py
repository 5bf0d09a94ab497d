"""The history forms and turns end to end (issue 22): the official openai and anthropic clients
send a tool-calling conversation back through the real mitmdump, and the scripted upstream
records the exact body it received.

Turn 1 reasoned and called a tool, turn 2 reasoned and answered after the tool's result; the
client sends both back with their reasoning in its own place (chat `reasoning_content`, a
Messages `thinking` block), as the proxy's restore step will put it too.
"""

from __future__ import annotations

import anthropic
import openai
import pytest

from .test_core import KEY
from .test_rules_formats import MESSAGE
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
    else:
        await reply.json(200, chat_completion("ok"))


@pytest.fixture
def answering(upstream):
    upstream.reset(answer)
    return upstream


def received(upstream) -> dict:
    (request,) = upstream.received
    return request.json()


def chat_history() -> list:
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


def messages_history() -> list:
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
