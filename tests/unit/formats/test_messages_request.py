"""Anthropic Messages, the request side (`cot_proxy.formats.messages_request`): the suffix and the history.

Request shapes follow the official clients' parameter types in the shared venv (anthropic.types: MessageParam, ThinkingBlockParam).
"""

from anthropic.types import MessageParam
from pydantic import TypeAdapter

from cot_proxy.rules import ModelRule
from tests.unit.formats.requests import THINK
from tests.unit.formats.requests import rewrite_request
from tests.unit.formats.requests import strip_rule
from tests.unit.formats.requests import suffix_rule
from tests.unit.formats.requests import to_field_rule

# --- Anthropic Messages ----------------------------------------------------------------------


def test_messages_suffix_to_string_and_last_text_block_system_untouched():
    body = {
        "model": "m",
        "max_tokens": 100,
        "system": "sys",
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "a"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "url", "url": "http://x/i.png"}},
                ],
            },
        ],
    }
    assert rewrite_request(body, suffix_rule(), THINK, "messages") == ["appended suffix"]
    assert body["system"] == "sys"
    assert body["messages"][0]["content"] == "first"
    assert body["messages"][2]["content"][0] == {"type": "text", "text": "look\n\n/no_think"}
    body = {
        "system": [{"type": "text", "text": "s"}],
        "messages": [{"role": "user", "content": "q"}],
    }
    rewrite_request(body, suffix_rule(), THINK, "messages")
    assert body == {
        "system": [{"type": "text", "text": "s"}],
        "messages": [{"role": "user", "content": "q\n\n/no_think"}],
    }


def test_messages_suffix_after_tool_result_blocks():
    blocks = [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]
    body = {"messages": [{"role": "user", "content": blocks}]}
    changes = rewrite_request(body, suffix_rule(), THINK, "messages")
    assert changes == ["appended suffix as a new text part"]
    assert blocks[-1] == {"type": "text", "text": "/no_think"}
    TypeAdapter(list[MessageParam]).validate_python(body["messages"])


def messages_history():
    return [
        {"role": "user", "content": "<think>user</think>q1"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "native", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "<think>t1</think>answer 1"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}]},
        {"role": "assistant", "content": "<think>t2</think>answer 2"},
        {"role": "assistant", "content": [{"type": "text", "text": "plain"}]},
        {"role": "user", "content": "q2"},
    ]


def test_messages_history_strip():
    body = {"messages": messages_history()}
    changes = rewrite_request(body, strip_rule(), THINK, "messages")
    assert changes == ["history: think removed from 2 assistant message(s)"]
    expected = messages_history()
    expected[1]["content"] = [
        {"type": "text", "text": "answer 1"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    ]
    expected[3]["content"] = "answer 2"
    assert body["messages"] == expected


def test_messages_history_strip_counts_a_message_with_only_native_thinking():
    message = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "text", "text": "a"},
        ],
    }
    body = {"messages": [message]}
    assert rewrite_request(body, strip_rule(), THINK, "messages") == [
        "history: think removed from 1 assistant message(s)"
    ]
    assert message["content"] == [{"type": "text", "text": "a"}]


def test_messages_history_to_field_makes_thinking_blocks():
    body = {"messages": messages_history()}
    changes = rewrite_request(body, to_field_rule(), THINK, "messages")
    assert changes == ["history: think moved to thinking blocks in 2 assistant message(s)"]
    expected = messages_history()
    expected[1]["content"][2:3] = [
        {"type": "thinking", "thinking": "t1", "signature": ""},
        {"type": "text", "text": "answer 1"},
    ]
    expected[3]["content"] = [
        {"type": "thinking", "thinking": "t2", "signature": ""},
        {"type": "text", "text": "answer 2"},
    ]
    assert body["messages"] == expected
    TypeAdapter(list[MessageParam]).validate_python(body["messages"])


def test_messages_history_keep():
    body = {"messages": messages_history()}
    assert rewrite_request(body, ModelRule("m"), THINK, "messages") == []
    assert body["messages"] == messages_history()
