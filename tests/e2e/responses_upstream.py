"""OpenAI Responses streams shaped like the servers that send them, for unit and e2e tests.

- vLLM (vllm/entrypoints/openai/serving_responses.py, non-harmony streaming): response.created
  and response.in_progress with the response; a reasoning item (`rs_…`) whose text comes as
  `response.reasoning_text.delta` {item_id, output_index, content_index, delta}, closed by
  `response.reasoning_text.done` and `response.output_item.done`; then a message item (`msg_…`)
  with content_part.added, `response.output_text.delta`, output_text.done, content_part.done,
  output_item.done; last `response.completed` whose response holds output and usage
  {input_tokens, input_tokens_details, output_tokens, output_tokens_details, total_tokens}.
  Every event has a `sequence_number` counting from 0 (openai types ResponseStreamEvent).
- Ollama (openai/responses.go ResponsesStreamConverter): the same sequence with the reasoning
  as `response.reasoning_summary_text.delta` {item_id, output_index, summary_index, delta} and
  usage without a reasoning count.
"""

from __future__ import annotations

import json
from typing import Any

Event = dict[str, Any]


def frame(events: list[Event]) -> bytes:
    """Events as the servers write them: `event:` then `data:` (compact JSON), numbered."""
    out = b""
    for n, event in enumerate(events):
        event = {**event, "sequence_number": n}
        out += (
            f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()
        )
    return out


def response(
    rid: str, created: int, status: str, output: list[Event], usage: Event | None
) -> Event:
    return {"id": rid, "object": "response", "created_at": created, "model": "vllm-qwen3-8b",
            "status": status, "incomplete_details": None, "output": output,
            "usage": usage}  # fmt: skip


def stream(
    thinking: list[str],
    answer: list[str],
    *,
    rid: str = "resp_first",
    created: int = 1700000000,
    ollama: bool = False,
    usage: Event | None = None,
    status: str = "completed",
) -> list[Event]:
    """One whole answer: a reasoning item (if `thinking`), then a message item (if `answer`)."""
    head = response(rid, created, "in_progress", [], None)
    events: list[Event] = [{"type": "response.created", "response": head},
                           {"type": "response.in_progress", "response": head}]  # fmt: skip
    output: list[Event] = []
    if thinking:
        rs = f"rs_{rid}"
        item: Event = {"id": rs, "type": "reasoning", "summary": [], "status": "in_progress"}
        events.append({"type": "response.output_item.added", "output_index": 0, "item": item})
        kind = "reasoning_summary_text" if ollama else "reasoning_text"
        at: Event = {
            "item_id": rs,
            "output_index": 0,
            ("summary_index" if ollama else "content_index"): 0,
        }
        events += [{"type": f"response.{kind}.delta", **at, "delta": d} for d in thinking]
        text = "".join(thinking)
        events.append({"type": f"response.{kind}.done", **at, "text": text})
        done: Event = {**item, "status": "completed"}
        if ollama:
            done["summary"] = [{"type": "summary_text", "text": text}]
        else:
            done["content"] = [{"type": "reasoning_text", "text": text}]
        events.append({"type": "response.output_item.done", "output_index": 0, "item": done})
        output.append(done)
    if answer:
        index, msg = len(output), f"msg_{rid}"
        item = {"id": msg, "type": "message", "role": "assistant", "status": "in_progress",
                "content": []}  # fmt: skip
        at = {"item_id": msg, "output_index": index, "content_index": 0}
        text = "".join(answer)
        part = {"type": "output_text", "text": text, "annotations": []}
        events += [
            {"type": "response.output_item.added", "output_index": index, "item": item},
            {"type": "response.content_part.added", **at, "part": {**part, "text": ""}},
            *({"type": "response.output_text.delta", **at, "delta": d} for d in answer),
            {"type": "response.output_text.done", **at, "text": text},
            {"type": "response.content_part.done", **at, "part": part},
        ]
        done = {**item, "status": "completed", "content": [part]}
        events.append({"type": "response.output_item.done", "output_index": index, "item": done})
        output.append(done)
    if usage is None:
        usage = {"input_tokens": 40, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 45}  # fmt: skip
    final = response(rid, created, status, output, usage)
    if status == "incomplete":
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    kind = "response.completed" if status == "completed" else "response.incomplete"
    events.append({"type": kind, "response": final})
    return events
