"""Anthropic Messages answers shaped like the servers that send them, for unit and e2e tests.

Each builder returns the decoded events (or the buffered message) in the order, key order and
field set of one server; `sse()` frames them as that server writes them on the wire. Sources:

- vLLM: vllm/entrypoints/anthropic/serving.py (`message_stream_converter`,
  `messages_full_converter`, `wrap_data_with_event`), field order from
  vllm/entrypoints/anthropic/protocol.py (`AnthropicStreamEvent`, `AnthropicContentBlock`),
  written with pydantic `model_dump_json(exclude_unset=True)`: compact, unset fields left out.
  Blocks are strictly one after another; a thinking block ends with a signature_delta of a
  uuid4 hex. Buffered: api_router.py, `model_dump(exclude_none=True)` through JSONResponse.
- llama.cpp: tools/server/server-task.cpp (`server_task_result_cmpl_partial::to_json_anthropic`,
  `server_task_result_cmpl_final::to_json_anthropic_stream` and `to_json_anthropic`), framed by
  tools/server/server-common.cpp `format_anthropic_sse` (nlohmann ordered_json, compact).
  Thinking is index 0, text 1, tool calls after; every block stays open until the final
  result, which sends the thinking block's empty signature_delta and all the stops at once.
- Anthropic's API: the SDK's own recorded fixtures (anthropic-sdk-python
  tests/lib/streaming/fixtures/tool_use_response.txt: compact JSON, but `{"type": "ping"}`
  with a space) and its types (anthropic/types/raw_*_event.py, thinking_block.py,
  redacted_thinking_block.py); the error event as its streaming docs show it.
"""

from __future__ import annotations

import json
from typing import Any

Event = dict[str, Any]


def sse(events: list[Event]) -> bytes:
    """`event: <type>` and one compact `data:` line per event, as all three servers write."""
    return b"".join(frame(event) for event in events)


def frame(event: Event) -> bytes:
    # The ping of Anthropic's API is the one event written with a space after the colon.
    separators = (", ", ": ") if event == {"type": "ping"} else (",", ":")
    data = json.dumps(event, ensure_ascii=False, separators=separators)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


# -- vLLM ----------------------------------------------------------------------------------------


def vllm_start(input_tokens: int = 12) -> Event:
    # AnthropicMessagesResponse(id, content, model, stop_reason, stop_sequence, usage): type
    # and role are defaults, so exclude_unset leaves them out.
    message: Event = {
        "id": "chatcmpl-8f1c2e",
        "content": [],
        "model": "Qwen/Qwen3-8B",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 0},
    }
    return {"type": "message_start", "message": message}


def vllm_block_start(index: int, content_block: Event) -> Event:
    return {"type": "content_block_start", "content_block": content_block, "index": index}


def vllm_delta(index: int, delta: Event) -> Event:
    return {"type": "content_block_delta", "delta": delta, "index": index}


def vllm_stop(index: int) -> Event:
    return {"type": "content_block_stop", "index": index}


def vllm_end(stop_reason: str = "end_turn", output_tokens: int = 30) -> list[Event]:
    usage = {"input_tokens": 12, "output_tokens": output_tokens}
    return [
        {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": usage},
        {"type": "message_stop"},
    ]


def vllm_text(deltas: list[str], stop_reason: str = "end_turn") -> list[Event]:
    """No reasoning parser: the model's <think> block is in the text block's deltas."""
    return [
        vllm_start(),
        vllm_block_start(0, {"type": "text", "text": ""}),
        *(vllm_delta(0, {"type": "text_delta", "text": text}) for text in deltas),
        vllm_stop(0),
        *vllm_end(stop_reason),
    ]


def vllm_thinking_tool(thinking: list[str], text: list[str], tool_args: list[str]) -> list[Event]:
    """--reasoning-parser and a tool parser: thinking (0), text (1), tool_use (2), in turn."""
    tool = {"type": "tool_use", "id": "chatcmpl-tool-1f2e", "name": "get_weather", "input": {}}
    return [
        vllm_start(),
        vllm_block_start(0, {"type": "thinking", "thinking": ""}),
        *(vllm_delta(0, {"type": "thinking_delta", "thinking": part}) for part in thinking),
        vllm_delta(0, {"type": "signature_delta", "signature": "5f0e3a9c1b7d4e2f8a6c0b9d3e1f7a2c"}),
        vllm_stop(0),
        vllm_block_start(1, {"type": "text", "text": ""}),
        *(vllm_delta(1, {"type": "text_delta", "text": part}) for part in text),
        vllm_stop(1),
        vllm_block_start(2, tool),
        *(vllm_delta(2, {"type": "input_json_delta", "partial_json": part}) for part in tool_args),
        vllm_stop(2),
        *vllm_end("tool_use"),
    ]


def vllm_body(content: list[Event], stop_reason: str = "end_turn") -> Event:
    """`messages_full_converter` through `model_dump(exclude_none=True)`."""
    return {
        "id": "chatcmpl-8f1c2e",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": "Qwen/Qwen3-8B",
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 12, "output_tokens": 30},
    }


# -- llama.cpp -----------------------------------------------------------------------------------


def llama_start() -> Event:
    message: Event = {
        "id": "chatcmpl-Qv3kT9",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "gpt-3.5-turbo",
        "stop_reason": None,
        "stop_sequence": None,
        # llama.cpp 0c1e57098 (llama-cpp-python 0.3.36) counts cached prompt tokens apart
        "usage": {"cache_read_input_tokens": 0, "input_tokens": 17, "output_tokens": 0},
    }
    return {"type": "message_start", "message": message}


def llama_block_start(index: int, content_block: Event) -> Event:
    return {"type": "content_block_start", "index": index, "content_block": content_block}


def llama_delta(index: int, delta: Event) -> Event:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def llama_end(indices: list[int], stop_reason: str, thinking: bool) -> list[Event]:
    """The final result: the thinking block's signature, every stop, then the message's end."""
    events: list[Event] = []
    if thinking:
        events.append(llama_delta(0, {"type": "signature_delta", "signature": ""}))
    events += [{"type": "content_block_stop", "index": index} for index in indices]
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    events.append({"type": "message_delta", "delta": delta, "usage": {"output_tokens": 42}})
    events.append({"type": "message_stop"})
    return events


def llama_text(deltas: list[str], stop_reason: str = "end_turn") -> list[Event]:
    """--reasoning-format none: the think block stays in the text."""
    return [
        llama_start(),
        llama_block_start(0, {"type": "text", "text": ""}),
        *(llama_delta(0, {"type": "text_delta", "text": text}) for text in deltas),
        *llama_end([0], stop_reason, thinking=False),
    ]


def llama_thinking_tool(thinking: list[str], text: list[str], tool_args: list[str]) -> list[Event]:
    """Reasoning parsed: thinking (0) stays open while text (1) and the tool call (2) stream."""
    tool = {"type": "tool_use", "id": "call_Xq2", "name": "get_weather"}
    return [
        llama_start(),
        llama_block_start(0, {"type": "thinking", "thinking": ""}),
        *(llama_delta(0, {"type": "thinking_delta", "thinking": part}) for part in thinking),
        llama_block_start(1, {"type": "text", "text": ""}),
        *(llama_delta(1, {"type": "text_delta", "text": part}) for part in text),
        llama_block_start(2, tool),
        *(llama_delta(2, {"type": "input_json_delta", "partial_json": part}) for part in tool_args),
        *llama_end([0, 1, 2], "tool_use", thinking=True),
    ]


def llama_body(content: list[Event], stop_reason: str = "end_turn") -> Event:
    """`to_json_anthropic`: thinking first (signature ""), then text, then tool calls."""
    return {
        "id": "chatcmpl-Qv3kT9",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": "gpt-3.5-turbo",
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 17, "output_tokens": 42},
    }


# -- Anthropic's API -----------------------------------------------------------------------------


def anthropic_start() -> Event:
    usage = {"input_tokens": 377, "cache_creation_input_tokens": 0, "output_tokens": 1}
    message: Event = {
        "id": "msg_019Q1hrJbZG26Fb9BQhrkHEr",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return {"type": "message_start", "message": message}


def anthropic_thinking(thinking: list[str], text: list[str]) -> list[Event]:
    """Extended thinking: a signed thinking block, a redacted one, then the text; a ping."""
    return [
        anthropic_start(),
        llama_block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        {"type": "ping"},
        *(llama_delta(0, {"type": "thinking_delta", "thinking": part}) for part in thinking),
        llama_delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}),
        {"type": "content_block_stop", "index": 0},
        llama_block_start(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
        {"type": "content_block_stop", "index": 1},
        llama_block_start(2, {"type": "text", "text": ""}),
        *(llama_delta(2, {"type": "text_delta", "text": part}) for part in text),
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 65},
        },
        {"type": "message_stop"},
    ]


ANTHROPIC_ERROR: Event = {
    "type": "error",
    "error": {"type": "overloaded_error", "message": "Overloaded"},
}
