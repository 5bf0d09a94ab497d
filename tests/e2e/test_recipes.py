"""The server recipes' tables (docs/recipes/), tried against a scripted upstream answering in the
shape each server setting gives: the think text in the content (llama.cpp `--reasoning-format
none`, vLLM and SGLang without a reasoning parser), in `reasoning_content` (llama.cpp `deepseek`,
SGLang's parser), in `reasoning` (vLLM's parser), in both (llama.cpp `deepseek-legacy`), or with
only the closing tag (a DeepSeek-R1 distill whose template opened the block). The servers
themselves cannot run here; the client recipes run against the demo (test_docs.py).
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from .upstream import Received
from .upstream import Reply
from .upstream import chat_chunk
from .upstream import chat_completion
from .upstream import sse_event

PLAN, ANSWER = "plan", "Answer"

# The upstream's answer per shape: (content, reasoning fields) as the server sends them.
SHAPES: dict[str, tuple[str, dict[str, str]]] = {
    "tags": (f"<think>{PLAN}</think>\n\n{ANSWER}", {}),
    "reasoning_content": (ANSWER, {"reasoning_content": PLAN}),
    "reasoning": (ANSWER, {"reasoning": PLAN}),
    "legacy": (f"<think>{PLAN}</think>\n\n{ANSWER}", {"reasoning_content": PLAN}),
    "end-tag-only": (f"{PLAN}</think>\n\n{ANSWER}", {}),
}

# The proxies the recipes start (besides their TARGET_BASE_URL), by name.
SETTINGS = {
    "default": {},
    "field=reasoning": {"REASONING_FIELD": "reasoning"},
    "family=deepseek_r1": {"THINK_FAMILY": "deepseek_r1"},
}

# (recipe row, upstream shape, proxy, mode, what the client gets: content, the reasoning fields)
CASES: list[tuple[str, str, str, str, str, dict[str, str]]] = [
    # llama.cpp --reasoning-format none; vLLM and SGLang without a parser
    ("tags, strip", "tags", "default", "strip", ANSWER, {}),
    ("tags, reasoning", "tags", "default", "reasoning", ANSWER, {"reasoning_content": PLAN}),
    ("tags, reasoning as `reasoning`", "tags", "field=reasoning", "reasoning", ANSWER,
     {"reasoning": PLAN}),
    ("tags, inline leaves them", "tags", "default", "inline", SHAPES["tags"][0], {}),
    # llama.cpp --reasoning-format deepseek; SGLang --reasoning-parser; LM Studio split off
    ("reasoning_content, strip", "reasoning_content", "default", "strip", ANSWER, {}),
    ("reasoning_content, reasoning", "reasoning_content", "default", "reasoning", ANSWER,
     {"reasoning_content": PLAN}),
    ("reasoning_content renamed", "reasoning_content", "field=reasoning", "reasoning", ANSWER,
     {"reasoning": PLAN}),
    ("reasoning_content, inline", "reasoning_content", "default", "inline",
     f"<think>{PLAN}</think>{ANSWER}", {}),
    # vLLM --reasoning-parser: its field is `reasoning`
    ("vLLM's reasoning, strip", "reasoning", "default", "strip", ANSWER, {}),
    ("vLLM's reasoning renamed", "reasoning", "default", "reasoning", ANSWER,
     {"reasoning_content": PLAN}),
    ("vLLM's reasoning, inline", "reasoning", "default", "inline",
     f"<think>{PLAN}</think>{ANSWER}", {}),
    # llama.cpp --reasoning-format deepseek-legacy: both, so the think text twice in reasoning
    # and inline mode (the recipe says: use none or deepseek)
    ("legacy, strip", "legacy", "default", "strip", ANSWER, {}),
    ("legacy, reasoning", "legacy", "default", "reasoning", ANSWER,
     {"reasoning_content": f"{PLAN}\n\n{PLAN}"}),
    ("legacy, inline: twice", "legacy", "default", "inline",
     f"<think>{PLAN}</think>{SHAPES['legacy'][0]}", {}),
    # a DeepSeek-R1 distill without a parser: only the closing tag; the family says where the
    # block began, without it the text before the orphan end tag is answer
    ("R1 end tag, family", "end-tag-only", "family=deepseek_r1", "strip", ANSWER, {}),
    ("R1 end tag, family, reasoning", "end-tag-only", "family=deepseek_r1", "reasoning", ANSWER,
     {"reasoning_content": PLAN}),
    ("R1 end tag, no family", "end-tag-only", "default", "strip", f"{PLAN}\n\n{ANSWER}", {}),
]  # fmt: skip

FIELDS = ("reasoning_content", "reasoning")


@pytest.fixture(scope="module")
def recipe_proxies(start_proxy, upstream) -> dict[str, Any]:
    target = {"TARGET_BASE_URL": f"{upstream.url}/v1"}
    return {name: start_proxy({**target, **env}) for name, env in SETTINGS.items()}


def serve(upstream, shape: str) -> None:
    content, fields = SHAPES[shape]

    async def handler(req: Received, reply: Reply) -> None:
        if not req.json().get("stream"):
            await reply.json(200, chat_completion(content, **fields))
            return
        events = [sse_event(chat_chunk("", role="assistant"))]
        for name, text in fields.items():  # the reasoning streams first, as the servers send it
            reasoning = chat_chunk(None)
            reasoning["choices"][0]["delta"] = {name: text}
            events.append(sse_event(reasoning))
        events += [sse_event(chat_chunk(content[i : i + 4])) for i in range(0, len(content), 4)]
        events += [sse_event(chat_chunk(None, finish="stop")), sse_event("[DONE]")]
        await reply.sse(events)

    upstream.reset(handler)


def ask(proxy, mode: str, stream: bool) -> tuple[str, dict[str, str]]:
    """(content, the reasoning fields) as the openai SDK delivers them."""
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="k", max_retries=0, timeout=20)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "q"}]
    headers = {"X-Think-Mode": mode}
    if not stream:
        answer = client.chat.completions.create(model="m", messages=messages, extra_headers=headers)
        extra = answer.choices[0].message.model_extra or {}
        return answer.choices[0].message.content or "", {
            f: extra[f] for f in FIELDS if extra.get(f)
        }
    content, fields = "", dict.fromkeys(FIELDS, "")
    chunks = client.chat.completions.create(
        model="m", messages=messages, extra_headers=headers, stream=True
    )
    for chunk in chunks:
        if chunk.choices:
            delta = chunk.choices[0].delta
            content += delta.content or ""
            for f in FIELDS:
                fields[f] += (delta.model_extra or {}).get(f) or ""
    return content, {f: text for f, text in fields.items() if text}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("shape", "proxy", "mode", "content", "fields"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_server_recipe_tables(
    recipe_proxies, upstream, stream, shape, proxy, mode, content, fields
) -> None:
    serve(upstream, shape)
    assert ask(recipe_proxies[proxy], mode, stream) == (content, fields)
