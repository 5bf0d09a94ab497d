"""Per-model request rules end to end: the body the upstream actually received."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from .test_core import KEY
from .test_core import curl
from .test_core import curl_json
from .upstream import Received
from .upstream import Reply
from .upstream import chat_completion

LLM_PARAMS = ";".join(
    [
        "model=qwen3-pseudo,upstream_model_name=Qwen/Qwen3-8B,temperature=0.6,"
        r"append_to_last_user_message=\n\n/no_think,chat_template_kwargs.enable_thinking=false",
        'model=qwen3-*,top_p=0.9,stop=["</s>","<|im_end|>"]',
        "model=default,max_tokens=77",
    ]
)

RULES_FILE = """
models:
  - model: qwen3-*
    params: {top_p: 0.5, top_k: 20}
    defaults: {max_tokens: 4096}
    drop: [frequency_penalty, metadata.trace]
  - model: r1
    think_tags: [["<think>", "</think>"]]
    strip_think_from_history: true
"""


@pytest.fixture(scope="module")
def rules_proxy(start_proxy, upstream, tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(RULES_FILE)
    return start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "LLM_PARAMS": LLM_PARAMS,
            "CONFIG_FILE": str(path),
        }
    )


def post(proxy, upstream, body: dict[str, Any]) -> dict[str, Any]:
    """POST a chat request through the proxy; the JSON body the upstream received."""
    status, _, _ = curl_json(
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {KEY}",
        "-d",
        json.dumps(body),
        f"{proxy.url}/v1/chat/completions",
    )
    assert status == 200
    return upstream.received[-1].json()


def test_pseudo_model_renamed_forced_nested_and_suffix(rules_proxy, upstream):
    sent = post(
        rules_proxy,
        upstream,
        {
            "model": "qwen3-pseudo",
            "temperature": 0,
            "chat_template_kwargs": {"keep": 1},
            "messages": [{"role": "user", "content": "Hi"}],
        },
    )
    assert sent["model"] == "Qwen/Qwen3-8B"
    assert sent["temperature"] == 0.6
    assert sent["chat_template_kwargs"] == {"keep": 1, "enable_thinking": False}
    assert sent["messages"][-1]["content"] == "Hi\n\n/no_think"


def test_glob_env_over_file_defaults_and_drop(rules_proxy, upstream):
    sent = post(
        rules_proxy,
        upstream,
        {
            "model": "qwen3-32b",
            "frequency_penalty": 1,
            "metadata": {"trace": "x", "other": "y"},
            "messages": [],
        },
    )
    assert sent["top_p"] == 0.9  # LLM_PARAMS wins over the file for the same pattern
    assert sent["top_k"] == 20  # the file's other params stay
    assert sent["stop"] == ["</s>", "<|im_end|>"]
    assert sent["max_tokens"] == 4096  # default: the client sent none
    assert "frequency_penalty" not in sent
    assert sent["metadata"] == {"other": "y"}


def test_default_keeps_client_value(rules_proxy, upstream):
    sent = post(rules_proxy, upstream, {"model": "qwen3-32b", "max_tokens": 5, "messages": []})
    assert sent["max_tokens"] == 5


def test_default_group_when_no_model(rules_proxy, upstream):
    sent = post(rules_proxy, upstream, {"messages": []})
    assert sent["max_tokens"] == 77


def test_no_rule_for_other_models(rules_proxy, upstream):
    raw = b'{"model": "llama",   "temperature": 1, "messages": []}'
    curl(
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        raw.decode(),
        f"{rules_proxy.url}/v1/chat/completions",
    )
    assert upstream.received[-1].body == raw


def test_history_think_blocks_stripped(rules_proxy, upstream):
    sent = post(
        rules_proxy,
        upstream,
        {
            "model": "r1",
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "<think>old reasoning</think>\n\nold answer"},
                {"role": "user", "content": "b"},
            ],
        },
    )
    assert sent["messages"][1]["content"] == "old answer"
    assert sent["messages"][0]["content"] == "a"


def test_models_list_merged_with_pseudo_models(rules_proxy, upstream):
    listing = {
        "object": "list",
        "data": [{"id": "Qwen/Qwen3-8B", "object": "model", "created": 5, "owned_by": "vllm"}],
    }

    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(200, listing)

    upstream.reset(handler)
    client = openai.OpenAI(base_url=f"{rules_proxy.url}/v1", api_key=KEY, max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert ids == ["Qwen/Qwen3-8B", "qwen3-pseudo"]


def test_models_error_passes_through(rules_proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(503, {"error": {"message": "loading", "type": "x", "code": None}})

    upstream.reset(handler)
    status, body, _ = curl_json(f"{rules_proxy.url}/v1/models")
    assert (status, body["error"]["message"]) == (503, "loading")


def test_think_mode_per_model(start_proxy, upstream):
    async def handler(req: Received, reply: Reply) -> None:
        await reply.json(200, chat_completion("<think>why</think>Answer"))

    upstream.reset(handler)
    proxy = start_proxy(
        {
            "TARGET_BASE_URL": f"{upstream.url}/v1/",
            "LLM_PARAMS": "model=keeper,think_mode=keep;model=mover,think_mode=reasoning",
        }
    )
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0)

    def ask(model: str):
        return (
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "q"}])
            .choices[0]
            .message
        )

    assert ask("keeper").content == "<think>why</think>Answer"
    mover = ask("mover")
    assert mover.content == "Answer"
    assert mover.model_extra["reasoning_content"] == "why"
    assert ask("other").content == "Answer"
    for received in upstream.received:
        assert "think_mode" not in json.dumps(received.json())


def test_effective_rules_logged_once_at_start(rules_proxy):
    log = rules_proxy.log()
    rule_lines = [line for line in log.splitlines() if "rule: " in line]
    assert len(rule_lines) == 4, (
        rule_lines
    )  # three LLM_PARAMS groups + the file's r1 rule (qwen3-* merged)
    assert any(
        "qwen3-pseudo" in line and "upstream_model_name=Qwen/Qwen3-8B" in line
        for line in rule_lines
    )
