"""Ollama's native API, the request side (`cot_proxy.formats.ollama_request`): the suffix and the history.

Request shapes follow the official clients' parameter types in the shared venv (ollama's api/types.go ChatRequest, GenerateRequest: `messages[].content`/`thinking` strings, `prompt`, `system`).
"""

import copy
import dataclasses

import pytest

from tests.unit.formats.requests import THINK
from tests.unit.formats.requests import rewrite_request
from tests.unit.formats.requests import strip_rule
from tests.unit.formats.requests import suffix_rule
from tests.unit.formats.requests import to_field_rule

# --- Ollama chat and generate ----------------------------------------------------------------


def test_ollama_chat_suffix_and_load_request():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi", "images": ["aGk="]}]}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_chat") == ["appended suffix"]
    assert body["messages"] == [{"role": "user", "content": "hi\n\n/no_think", "images": ["aGk="]}]
    # `messages: []` loads the model (Ollama's docs): it must not become a generation.
    body = {"model": "m", "messages": []}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_chat") == []
    assert body == {"model": "m", "messages": []}
    body = {"model": "m", "messages": [{"role": "tool", "content": "42", "tool_name": "f"}]}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_chat") == [
        "appended suffix as a new user message"
    ]
    assert body["messages"][-1] == {"role": "user", "content": "/no_think"}


def ollama_history():
    return [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "answer 1", "thinking": "native"},
        {
            "role": "assistant",
            "content": "<think>inline</think>answer 2",
            "tool_calls": [{"function": {"name": "f", "arguments": {}}}],
        },
        {"role": "tool", "content": "<think>x</think>r", "tool_name": "f"},
        {"role": "assistant", "content": "answer 3", "reasoning_content": "renamed"},
        {"role": "user", "content": "q2"},
    ]


def test_ollama_chat_history_strip():
    body = {"messages": ollama_history()}
    changes = rewrite_request(body, strip_rule(), THINK, "ollama_chat")
    assert changes == ["history: think removed from 3 assistant message(s)"]
    expected = ollama_history()
    del expected[2]["thinking"]
    expected[3]["content"] = "answer 2"
    del expected[5]["reasoning_content"]
    assert body["messages"] == expected


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "both"])
def test_ollama_chat_history_to_field_is_thinking_whatever_the_reasoning_field(field):
    body = {"messages": ollama_history()}
    think = dataclasses.replace(THINK, reasoning_field=field)
    changes = rewrite_request(body, to_field_rule(), think, "ollama_chat")
    assert changes == ["history: think moved to the reasoning field in 2 assistant message(s)"]
    expected = ollama_history()
    expected[3]["content"] = "answer 2"
    expected[3]["thinking"] = "inline"
    del expected[5]["reasoning_content"]
    expected[5]["thinking"] = "renamed"
    assert body["messages"] == expected


def test_ollama_generate_suffix_to_prompt_not_system():
    body = {"model": "m", "prompt": "Why?", "system": "Be brief.", "stream": False}
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_generate") == [
        "appended suffix to prompt"
    ]
    assert body == {
        "model": "m",
        "prompt": "Why?\n\n/no_think",
        "system": "Be brief.",
        "stream": False,
    }
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_generate") == []


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m"},  # load
        {"model": "m", "prompt": ""},  # load
        {"model": "m", "prompt": "", "keep_alive": 0},  # unload
        {"model": "m", "prompt": "<|im_start|>user\nhi<|im_end|>\n", "raw": True},
        {"model": "m", "prompt": ["a"]},
    ],
)
def test_ollama_generate_suffix_skips_load_raw_and_odd_prompts(body):
    before = copy.deepcopy(body)
    assert rewrite_request(body, suffix_rule(), THINK, "ollama_generate") == []
    assert body == before


def test_ollama_generate_history_has_nothing_to_touch():
    body = {"prompt": "<think>a</think>b", "context": [1, 2, 3]}
    before = copy.deepcopy(body)
    assert rewrite_request(body, strip_rule(), THINK, "ollama_generate") == []
    assert body == before
