"""The four wire formats through the official clients, each answer reduced to a `Split`.

Every streamed reader also checks what only a stream can get wrong: the text streamed equals the
text of the final object wherever the format repeats it (Responses' `….done` events and
`response.completed`; the anthropic SDK's accumulated message).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import anthropic
import openai
from openai.types.chat import ChatCompletionUserMessageParam

from ..e2e.conftest import Proxy
from .compare import Split
from .llama import LlamaServer

KEY = "sk-conformance"
USER: list[ChatCompletionUserMessageParam] = [{"role": "user", "content": "Hi"}]


@functools.cache
def openai_client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=60)


@functools.cache
def anthropic_client(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=60)


def sampling(grammar: str, seed: int, max_tokens: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"grammar": grammar, "seed": seed, "cache_prompt": False}
    if max_tokens:
        body["max_tokens"] = max_tokens
    return body


def reasoning_of(obj: Any) -> str | None:
    extra = obj.model_extra or {}
    value = extra.get("reasoning_content")
    return value if value else None  # llama.cpp and the proxy omit empty reasoning (or should)


# --- chat completions ---------------------------------------------------------------------------


def direct_chat(llama: LlamaServer, extra: dict[str, Any], reasoning_format: str) -> dict[str, Any]:
    body = {"messages": USER, **extra, "reasoning_format": reasoning_format}
    return json.loads(llama.post("/v1/chat/completions", body))


def llama_split(answer: dict[str, Any]) -> Split:
    message = answer["choices"][0]["message"]
    return Split(message.get("reasoning_content") or None, message.get("content") or "")


def chat_buffered(proxy: Proxy, extra: dict[str, Any]) -> Split:
    answer = openai_client(proxy).chat.completions.create(
        model="tiny", messages=USER, extra_body=extra
    )
    message = answer.choices[0].message
    return Split(reasoning_of(message), message.content or "")


def chat_streamed(proxy: Proxy, extra: dict[str, Any]) -> tuple[Split, list[str]]:
    """The split, and every content delta as it came (a strip client must see no think text in any)."""
    stream = openai_client(proxy).chat.completions.create(
        model="tiny", messages=USER, extra_body=extra, stream=True
    )
    deltas: list[str] = []
    thoughts: list[str] = []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                deltas.append(choice.delta.content)
            if reasoning := reasoning_of(choice.delta):
                thoughts.append(reasoning)
    return Split("".join(thoughts) or None, "".join(deltas)), deltas


# --- completions --------------------------------------------------------------------------------


def completion_buffered(proxy: Proxy, prompt: str, extra: dict[str, Any]) -> Split:
    answer = openai_client(proxy).completions.create(model="tiny", prompt=prompt, extra_body=extra)
    choice = answer.choices[0]
    return Split(reasoning_of(choice), choice.text)


def completion_streamed(
    proxy: Proxy, prompt: str, extra: dict[str, Any]
) -> tuple[Split, list[str]]:
    stream = openai_client(proxy).completions.create(
        model="tiny", prompt=prompt, extra_body=extra, stream=True
    )
    deltas: list[str] = []
    thoughts: list[str] = []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.text:
                deltas.append(choice.text)
            if reasoning := reasoning_of(choice):
                thoughts.append(reasoning)
    return Split("".join(thoughts) or None, "".join(deltas)), deltas


# --- Responses ----------------------------------------------------------------------------------


def responses_split(output: list[Any]) -> Split:
    thoughts: list[str] = []
    text: list[str] = []
    for item in output:
        if item.type == "reasoning":
            thoughts += [part.text for part in item.content or []]
        elif item.type == "message":
            text += [part.text for part in item.content if part.type == "output_text"]
    return Split("\n".join(thoughts) or None, "".join(text))


def responses_extra(extra: dict[str, Any]) -> dict[str, Any]:
    extra = dict(extra)
    if "max_tokens" in extra:
        extra["max_output_tokens"] = extra.pop("max_tokens")
    return extra


def responses_buffered(proxy: Proxy, extra: dict[str, Any]) -> Split:
    answer = openai_client(proxy).responses.create(
        model="tiny", input="Hi", extra_body=responses_extra(extra)
    )
    return responses_split(answer.output)


def responses_streamed(proxy: Proxy, extra: dict[str, Any]) -> tuple[Split, list[str], Split]:
    """The split of the streamed deltas, the deltas, and the split of `response.completed`."""
    stream = openai_client(proxy).responses.create(
        model="tiny", input="Hi", extra_body=responses_extra(extra), stream=True
    )
    deltas: list[str] = []
    thoughts: dict[str, str] = {}  # per reasoning item
    final = Split(None, "")
    for event in stream:
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        elif event.type == "response.reasoning_text.delta":
            thoughts[event.item_id] = thoughts.get(event.item_id, "") + event.delta
        elif event.type == "response.completed":
            final = responses_split(event.response.output)
    return Split("\n".join(thoughts.values()) or None, "".join(deltas)), deltas, final


# --- Anthropic Messages -------------------------------------------------------------------------


def messages_split(content: list[Any]) -> Split:
    thoughts = [block.thinking for block in content if block.type == "thinking"]
    text = [block.text for block in content if block.type == "text"]
    return Split("\n".join(t for t in thoughts if t) or None, "".join(text))


def messages_buffered(proxy: Proxy, prompt: str, max_tokens: int) -> tuple[Split, str | None]:
    answer = anthropic_client(proxy).messages.create(
        model="tiny", max_tokens=max_tokens, messages=[{"role": "user", "content": prompt}]
    )
    return messages_split(answer.content), answer.stop_reason


def messages_streamed(proxy: Proxy, prompt: str, max_tokens: int) -> tuple[Split, list[str], Split]:
    """The split of the streamed blocks, the text deltas, and the SDK's accumulated final message."""
    deltas: list[str] = []
    blocks: dict[int, list[str]] = {}
    kinds: dict[int, str] = {}
    with anthropic_client(proxy).messages.stream(
        model="tiny", max_tokens=max_tokens, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        for event in stream:
            if event.type == "content_block_start":
                kinds[event.index] = event.content_block.type
                blocks[event.index] = []
            elif event.type == "content_block_delta":
                if event.delta.type == "text_delta":
                    deltas.append(event.delta.text)
                    blocks[event.index].append(event.delta.text)
                elif event.delta.type == "thinking_delta":
                    blocks[event.index].append(event.delta.thinking)
        final = messages_split(stream.get_final_message().content)
    thoughts = ["".join(blocks[i]) for i in sorted(blocks) if kinds[i] == "thinking"]
    text = ["".join(blocks[i]) for i in sorted(blocks) if kinds[i] == "text"]
    return Split("\n".join(t for t in thoughts if t) or None, "".join(text)), deltas, final


def direct_chat_for_messages(llama: LlamaServer, prompt: str, max_tokens: int) -> Split:
    """llama.cpp's own split of what /v1/messages generates for `prompt`: the same chat request the
    server's Anthropic converter makes (its default grammar and seed, no `grammar` or `seed`)."""
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "reasoning_format": "deepseek",
    }
    return llama_split(json.loads(llama.post("/v1/chat/completions", body)))


# --- straight to the server: llama.cpp's own split on the other formats ----------------------


def direct_responses(llama: LlamaServer, extra: dict[str, Any], reasoning_format: str) -> Split:
    body = {"input": "Hi", **responses_extra(extra), "reasoning_format": reasoning_format}
    answer = json.loads(llama.post("/v1/responses", body))
    thoughts: list[str] = []
    text: list[str] = []
    for item in answer["output"]:
        if item["type"] == "reasoning":
            thoughts += [part["text"] for part in item.get("content") or []]
        elif item["type"] == "message":
            text += [part["text"] for part in item["content"] if part["type"] == "output_text"]
    return Split("\n".join(thoughts) or None, "".join(text))


def chat_prompt(llama: LlamaServer) -> str:
    """The chat template applied to USER by the server: a completions prompt that generates
    exactly what a chat request with the same grammar and seed does."""
    return str(json.loads(llama.post("/apply-template", {"messages": USER}))["prompt"])
