"""Per-model rules on every wire format, end to end: the official clients (openai Responses,
anthropic Messages, ollama chat/generate/list) through the real mitmdump, and the exact body
the upstream received."""

from __future__ import annotations

from typing import Any

import anthropic
import ollama
import openai
import pytest

from .test_core import KEY
from .test_core import curl_json
from .upstream import Received
from .upstream import Reply

SUFFIX = "\n\n/no_think"

RULES_FILE = r"""
models:
  - model: resp-pseudo
    upstream_model_name: Qwen/Qwen3-8B
    params: {temperature: 0.6}
    defaults: {max_output_tokens: 1024}
    drop: [metadata]
    append_to_last_user_message: "\n\n/no_think"
    history: strip
  - model: resp-field
    history: to_field
  - model: claude-pseudo
    upstream_model_name: Qwen/Qwen3-8B
    params: {top_k: 20}
    drop: [metadata.user_id]
    append_to_last_user_message: "\n\n/no_think"
    history: strip
  - model: claude-field
    history: to_field
  - model: fast
    upstream_model_name: qwen3
    params: {options.temperature: 0.6, think: false}
    defaults: {options.num_ctx: 8192}
    drop: [options.seed]
    append_to_last_user_message: "\n\n/no_think"
    history: strip
  - model: fast-field
    upstream_model_name: qwen3
    history: to_field
"""


@pytest.fixture(scope="module")
def formats_proxy(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("rules-formats") / "rules.yaml"
    path.write_text(RULES_FILE)
    # No base path: /v1/responses, /v1/messages and Ollama's /api/... reach the upstream as sent.
    return start_proxy({"TARGET_BASE_URL": upstream.url, "CONFIG_FILE": str(path)})


# Answers in each server's non-streamed shape. Responses: vLLM's ResponsesResponse
# (vllm/entrypoints/openai/protocol.py, openai.types.responses.Response fields). Messages:
# Anthropic's Message (anthropic/types/message.py; vLLM's AnthropicMessagesResponse). Ollama:
# api.ChatResponse / api.GenerateResponse / api.ListResponse (ollama/ollama api/types.go).
RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "Qwen/Qwen3-8B",
    "status": "completed",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "ok", "annotations": []}],
        }
    ],
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
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "Qwen/Qwen3-8B",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
OLLAMA_CHAT = {
    "model": "qwen3",
    "created_at": "2025-05-01T10:00:00.000000000Z",
    "message": {"role": "assistant", "content": "ok"},
    "done_reason": "stop",
    "done": True,
    "total_duration": 1000,
    "eval_count": 1,
}
OLLAMA_GENERATE = {
    "model": "qwen3",
    "created_at": "2025-05-01T10:00:00.000000000Z",
    "response": "ok",
    "done": True,
    "done_reason": "stop",
}
TAGS = {
    "models": [
        {
            "name": "qwen3:latest",
            "model": "qwen3:latest",
            "modified_at": "2025-05-01T10:00:00.123456789+02:00",
            "size": 5_200_000_000,
            "digest": "500a1f067a9f",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "qwen3",
                "families": ["qwen3"],
                "parameter_size": "8.2B",
                "quantization_level": "Q4_K_M",
            },
        }
    ]
}
ANSWERS = {
    "/v1/responses": RESPONSE,
    "/v1/messages": MESSAGE,
    "/api/chat": OLLAMA_CHAT,
    "/api/generate": OLLAMA_GENERATE,
    "/api/tags": TAGS,
}


async def by_path(req: Received, reply: Reply) -> None:
    await reply.json(200, ANSWERS[req.path.split("?")[0]])


@pytest.fixture
def answering(upstream):
    upstream.reset(by_path)
    return upstream


def received(upstream) -> dict[str, Any]:
    (request,) = upstream.received
    assert "x-think-mode" not in request.headers
    return request.json()


def responses_client(proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=20)


def anthropic_client(proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=20)


def ollama_client(proxy) -> ollama.Client:
    return ollama.Client(host=proxy.url, timeout=20)


# --- OpenAI Responses --------------------------------------------------------------------


def test_responses_string_input_rule(formats_proxy, answering):
    answer = responses_client(formats_proxy).responses.create(
        model="resp-pseudo", input="Hi", metadata={"trace": "1"}, temperature=1.0
    )
    assert answer.output_text == "ok"
    assert received(answering) == {
        "model": "Qwen/Qwen3-8B",
        "input": "Hi" + SUFFIX,
        "temperature": 0.6,
        "max_output_tokens": 1024,
    }


def history_input() -> list[Any]:
    return [
        {"role": "user", "content": "q1"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s"}]},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": "<think>t1</think>answer 1", "annotations": []}
            ],
        },
        {"role": "user", "content": [{"type": "input_text", "text": "q2"}]},
    ]


def test_responses_history_strip_and_suffix(formats_proxy, answering):
    responses_client(formats_proxy).responses.create(
        model="resp-pseudo", input=history_input(), extra_headers={"X-Think-Mode": "keep"}
    )
    expected = history_input()
    del expected[1]
    expected[1]["content"][0]["text"] = "answer 1"
    expected[2]["content"][0]["text"] = "q2" + SUFFIX
    assert received(answering) == {
        "model": "Qwen/Qwen3-8B",
        "input": expected,
        "temperature": 0.6,
        "max_output_tokens": 1024,
    }


def test_responses_history_to_field(formats_proxy, answering):
    responses_client(formats_proxy).responses.create(model="resp-field", input=history_input())
    expected = history_input()
    expected[2]["content"][0]["text"] = "answer 1"
    expected.insert(
        2,
        {
            "type": "reasoning",
            "id": "rs_cot_proxy_2",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "t1"}],
        },
    )
    assert received(answering) == {"model": "resp-field", "input": expected}


# --- Anthropic Messages ------------------------------------------------------------------


def claude_history() -> list[Any]:
    return [
        {"role": "user", "content": "q1"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "native", "signature": "sig"},
                {"type": "text", "text": "<think>t1</think>answer 1"},
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "q2"}]},
    ]


def test_messages_rule_strip_and_suffix_system_untouched(formats_proxy, answering):
    answer = anthropic_client(formats_proxy).messages.create(
        model="claude-pseudo",
        max_tokens=100,
        system="Be brief.",
        messages=claude_history(),
        metadata={"user_id": "u1"},
    )
    assert answer.content[0].type == "text" and answer.content[0].text == "ok"
    expected = claude_history()
    expected[1]["content"] = [{"type": "text", "text": "answer 1"}]
    expected[2]["content"][0]["text"] = "q2" + SUFFIX
    assert received(answering) == {
        "model": "Qwen/Qwen3-8B",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": expected,
        "metadata": {},
        "top_k": 20,
    }


def test_messages_history_to_field(formats_proxy, answering):
    anthropic_client(formats_proxy).messages.create(
        model="claude-field", max_tokens=100, messages=claude_history()
    )
    expected = claude_history()
    expected[1]["content"][1:] = [
        {"type": "thinking", "thinking": "t1", "signature": ""},
        {"type": "text", "text": "answer 1"},
    ]
    assert received(answering) == {
        "model": "claude-field",
        "max_tokens": 100,
        "messages": expected,
    }


# --- Ollama ------------------------------------------------------------------------------


def ollama_history() -> list[Any]:
    return [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "<think>t1</think>answer 1", "thinking": "native"},
        {"role": "user", "content": "q2"},
    ]


def test_ollama_chat_rule(formats_proxy, answering):
    answer = ollama_client(formats_proxy).chat(
        model="fast",
        messages=ollama_history(),
        options={"temperature": 1.0, "seed": 7, "top_p": 0.9},
        stream=False,
    )
    assert answer.message.content == "ok"
    sent = received(answering)
    expected_messages = ollama_history()
    expected_messages[1] = {"role": "assistant", "content": "answer 1"}
    expected_messages[2]["content"] = "q2" + SUFFIX
    assert sent == {
        "model": "qwen3",
        "stream": False,
        "messages": expected_messages,
        "tools": [],  # the ollama client always sends it
        "options": {"temperature": 0.6, "top_p": 0.9, "num_ctx": 8192},
        "think": False,
    }


def test_ollama_chat_history_to_field_with_latest_tag(formats_proxy, answering):
    ollama_client(formats_proxy).chat(
        model="fast-field:latest",
        messages=[
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "<think>t1</think>answer 1"},
            {"role": "user", "content": "q2"},
        ],
        stream=False,
    )
    assert received(answering) == {
        "model": "qwen3",
        "stream": False,
        "messages": [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "answer 1", "thinking": "t1"},
            {"role": "user", "content": "q2"},
        ],
        "tools": [],
    }


def test_ollama_generate_rule(formats_proxy, answering):
    answer = ollama_client(formats_proxy).generate(
        model="fast", prompt="Why?", system="Be brief.", options={"seed": 7}, stream=False
    )
    assert answer.response == "ok"
    assert received(answering) == {
        "model": "qwen3",
        "prompt": "Why?" + SUFFIX,
        "system": "Be brief.",
        "stream": False,
        "options": {"temperature": 0.6, "num_ctx": 8192},
        "think": False,
    }


def test_ollama_load_request_gets_no_suffix(formats_proxy, answering):
    # `ollama run` and UIs load a model with an empty prompt; it must stay a load.
    status, _, _ = curl_json(
        "-H", "Content-Type: application/json", "-d", '{"model": "fast"}',
        f"{formats_proxy.url}/api/generate",
    )  # fmt: skip
    assert status == 200
    assert received(answering) == {
        "model": "qwen3",
        "options": {"temperature": 0.6, "num_ctx": 8192},
        "think": False,
    }


def test_ollama_list_shows_the_pseudo_models(formats_proxy, answering):
    listing = ollama_client(formats_proxy).list()
    names = [m.model for m in listing.models]
    assert names == ["qwen3:latest", "resp-pseudo", "claude-pseudo", "fast", "fast-field"]
    fast = next(m for m in listing.models if m.model == "fast")
    assert fast.details is not None and fast.details.family == "qwen3"  # copied from qwen3:latest
    assert fast.size == 5_200_000_000
    other = next(m for m in listing.models if m.model == "resp-pseudo")
    assert other.size == 0  # its target is no Ollama model: the minimal entry
    assert answering.received[0].path == "/api/tags"


def test_ollama_tags_exact_bytes_through_curl(formats_proxy, answering):
    status, body, _ = curl_json(f"{formats_proxy.url}/api/tags")
    assert status == 200
    assert body["models"][0] == TAGS["models"][0]
    assert body["models"][3] == {**TAGS["models"][0], "name": "fast", "model": "fast"}
