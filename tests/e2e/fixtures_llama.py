"""Upstream Responses API streams shaped as llama-server (llama.cpp) sends them.

Source: llama.cpp `0c1e57098` as vendored in llama-cpp-python 0.3.36,
tools/server/server-task.cpp:

- `server_task_result_cmpl_partial::to_json_oaicompat_resp`: the first partial result opens with
  `response.created` and `response.in_progress`, whose `response` is only `{id, object,
  status}`; per diff, a reasoning item (`output_item.added` with id `rs_…`, then
  `response.reasoning_text.delta` events) when the server's own parser split reasoning off, and a
  message item (`output_item.added`, `content_part.added` with a part of only `type` and `text`,
  then `response.output_text.delta`). Every event names its item by `item_id` (the added events
  by `item.id`) and none carries `output_index`, `content_index`, `sequence_number` or
  `logprobs`. `timings` goes on the last event of a result when the result has stats (the last
  token's partial result, and the final one).
- `server_task_result_cmpl_final::to_json_oaicompat_resp_stream`: the reasoning item's
  `output_item.done` (no `status`; no `reasoning_text.done`, no part events), the message's
  `output_text.done`, `content_part.done` and `output_item.done`, then `response.completed`
  with the whole output: the same item ids as the stream.

tools/server/server-common.cpp `format_oai_resp_sse` frames each as `event: <type>\\ndata:
<json>\\n\\n`, the JSON compact, keys in the order the source writes them (nlohmann
`ordered_json`), UTF-8 as is; no `[DONE]` at the end. With `--reasoning-format none` the think
block stays in the message text: that is the stream the proxy filters.
"""

from __future__ import annotations

import json
from typing import Any

LLAMA_RESP = "resp_Vq3bN8kR2sT5wX7zA1cE4gJ6mP9uY0dF"
LLAMA_RS = "rs_H2kL5nQ8tW1yB4eG7jM0pS3vZ6cF9iK2"
LLAMA_MSG = "msg_T6wZ9cF2iL5oR8uX1aD4gJ7mP0sV3yB6"
TIMINGS = {
    "cache_n": 0,
    "prompt_n": 17,
    "prompt_ms": 4.2,
    "prompt_per_token_ms": 0.247,
    "prompt_per_second": 4047.6,
    "predicted_n": 9,
    "predicted_ms": 21.5,
    "predicted_per_token_ms": 2.389,
    "predicted_per_second": 418.6,
}


def _lifecycle(kind: str) -> dict[str, Any]:
    response = {"id": LLAMA_RESP, "object": "response", "status": "in_progress"}
    return {"type": kind, "response": response}


def llama_stream(reasoning: list[str] | None = None, text: list[str] | None = None) -> list[Any]:
    """llama-server's events for reasoning deltas (its own parser on) and text deltas."""
    events: list[dict[str, Any]] = [
        _lifecycle("response.created"),
        _lifecycle("response.in_progress"),
    ]
    if reasoning:
        item: dict[str, Any] = {
            "id": LLAMA_RS,
            "summary": [],
            "type": "reasoning",
            "content": [],
            "encrypted_content": "",
            "status": "in_progress",
        }
        events.append({"type": "response.output_item.added", "item": item})
        for piece in reasoning:
            events.append(
                {"type": "response.reasoning_text.delta", "delta": piece, "item_id": LLAMA_RS}
            )
    if text:
        message: dict[str, Any] = {
            "content": [],
            "id": LLAMA_MSG,
            "role": "assistant",
            "status": "in_progress",
            "type": "message",
        }
        events.append({"type": "response.output_item.added", "item": message})
        part: dict[str, Any] = {"type": "output_text", "text": ""}
        events.append({"type": "response.content_part.added", "item_id": LLAMA_MSG, "part": part})
        for piece in text:
            events.append(
                {"type": "response.output_text.delta", "item_id": LLAMA_MSG, "delta": piece}
            )
    events[-1]["timings"] = TIMINGS  # the last token's partial result has stats
    output: list[dict[str, Any]] = []
    if reasoning:
        whole = "".join(reasoning)
        item = {
            "id": LLAMA_RS,
            "summary": [],
            "type": "reasoning",
            "content": [{"text": whole, "type": "reasoning_text"}],
            "encrypted_content": "",
        }
        events.append({"type": "response.output_item.done", "item": item})
        output.append(item)
    if text:
        whole = "".join(text)
        events.append({"type": "response.output_text.done", "item_id": LLAMA_MSG, "text": whole})
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": whole}
        events.append({"type": "response.content_part.done", "item_id": LLAMA_MSG, "part": part})
        message = {
            "type": "message",
            "status": "completed",
            "id": LLAMA_MSG,
            "content": [part],
            "role": "assistant",
        }
        events.append({"type": "response.output_item.done", "item": message})
        output.append(message)
    response = {
        "id": LLAMA_RESP,
        "object": "response",
        "created_at": 1765100000,
        "status": "completed",
        "model": "tiny-qwen3",
        "output": output,
        "usage": {
            "input_tokens": 17,
            "output_tokens": 9,
            "total_tokens": 26,
            "input_tokens_details": {"cached_tokens": 0},
        },
    }
    events.append({"type": "response.completed", "response": response, "timings": TIMINGS})
    return events


def llama_sse(events: list[Any]) -> bytes:
    """`format_oai_resp_sse`: `event:` and one compact `data:` line per event."""
    return b"".join(
        b"event: %s\ndata: %s\n\n"
        % (
            e["type"].encode(),
            json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode(),
        )
        for e in events
    )
