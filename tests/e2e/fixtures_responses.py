"""Upstream Responses API answers (`POST /v1/responses`), shaped as vLLM and Ollama send them.

vLLM: the events of vllm/entrypoints/openai/responses/simple_streaming_events.py
(`process_simple_stream`: a reasoning item with a reasoning_text content part, then a message
item, then function_call items, each closed before the next opens; content_index 0 throughout),
opened by `response.created` and `response.in_progress` and closed by `response.completed`
(vllm/entrypoints/openai/serving_responses.py, `responses_stream_generator`; sequence numbers
from 0). Each event is openai-python's pydantic model dumped with `model_dump_json` (fields in
declaration order, None included) and framed `event: <type>\\ndata: <json>\\n\\n`
(`_convert_stream_to_sse_events` in vllm/entrypoints/openai/responses/api_router.py). The
`response` object is vLLM's `ResponsesResponse` (vllm/entrypoints/openai/responses/protocol.py).
Its final output comes from `responses_full_generator`, whose items get new ids: the
completed output's ids differ from the streamed ones (as they do in vLLM).

Ollama: `ResponsesStreamConverter` of ollama openai/responses.go (reasoning as
`response.reasoning_summary_text.delta/done` with no summary part events, a reasoning item
whose `encrypted_content` is the plain text, function calls all at once with the final chunk)
and `ResponsesWriter.writeEvent` of middleware/openai.go: Go's json.Marshal of maps, so keys
sorted and `<`, `>`, `&` escaped as \\u003c, \\u003e, \\u0026. The buffered answer is
`ToResponse` (struct field order, `omitempty` fields left out).
"""

from __future__ import annotations

import json
from typing import Any

VLLM_MSG = "9f0c2d41a8e94f3b"  # vLLM streams random_uuid() item ids, with no prefix
VLLM_RS = "5b7e21c0d3f84a66"
VLLM_FC = "c2a9e87f10b54d13"


def _vllm_response(status: str, output: list[Any], usage: Any) -> dict[str, Any]:
    return {
        "id": "resp_3f6e9a2b7c1d4e58",
        "created_at": 1754000000,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "metadata": None,
        "model": "Qwen/Qwen3-8B",
        "object": "response",
        "output": output,
        "parallel_tool_calls": True,
        "temperature": 0.6,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 0.95,
        "background": False,
        "max_output_tokens": 32000,
        "max_tool_calls": None,
        "previous_response_id": None,
        "prompt": None,
        "reasoning": None,
        "service_tier": "auto",
        "status": status,
        "text": None,
        "top_logprobs": 0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "kv_transfer_params": None,
        "input_messages": None,
        "output_messages": None,
    }


def _vllm_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": 12,
        "input_tokens_details": {
            "cached_tokens": 0,
            "input_tokens_per_turn": [],
            "cached_tokens_per_turn": [],
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {
            "reasoning_tokens": 0,
            "tool_output_tokens": 0,
            "output_tokens_per_turn": [],
            "tool_output_tokens_per_turn": [],
        },
        "total_tokens": 12 + output_tokens,
    }


def _vllm_reasoning(item_id: str, text: str | None, status: str | None) -> dict[str, Any]:
    content = None if text is None else [{"text": text, "type": "reasoning_text"}]
    return {
        "id": item_id,
        "summary": [],
        "type": "reasoning",
        "content": content,
        "encrypted_content": None,
        "status": status,
    }


def _vllm_message(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [_vllm_text_part(text)]
    return {
        "id": item_id,
        "content": content,
        "role": "assistant",
        "status": status,
        "type": "message",
    }


def _vllm_text_part(text: str) -> dict[str, Any]:
    return {"annotations": [], "text": text, "type": "output_text", "logprobs": []}


def _vllm_call(item_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "call_id": f"call_{item_id}",
        "name": name,
        "type": "function_call",
        "id": item_id,
        "status": status,
    }


def vllm_output(
    reasoning: str | None, text: str | None, calls: list[tuple[str, str]], final: bool = True
) -> list[dict[str, Any]]:
    """The items of a vLLM answer; `final`: with the new ids `responses_full_generator` gives."""
    mark = "f" if final else ""
    output: list[dict[str, Any]] = []
    if reasoning is not None:
        output.append(_vllm_reasoning(f"rs_{mark}{VLLM_RS}", reasoning, None))
    if text is not None:
        output.append(_vllm_message(f"msg_{mark}{VLLM_MSG}", text, "completed"))
    for n, (name, arguments) in enumerate(calls):
        output.append(_vllm_call(f"fc_{mark}{VLLM_FC}{n}", name, arguments, "completed"))
    return output


def vllm_stream(
    reasoning: list[str] | None = None,
    text: list[str] | None = None,
    calls: list[tuple[str, list[str]]] | None = None,
    status: str = "completed",
) -> list[dict[str, Any]]:
    """A vLLM stream: reasoning deltas (with --reasoning-parser), text deltas, tool calls."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({**fields, "sequence_number": len(events), "type": kind})

    created = _vllm_response("in_progress", [], None)
    emit("response.created", response=created)
    emit("response.in_progress", response=created)
    index = 0
    if reasoning is not None:
        on = {"item_id": VLLM_RS, "output_index": index}
        emit(
            "response.output_item.added",
            item=_vllm_reasoning(VLLM_RS, None, "in_progress"),
            output_index=index,
        )
        emit(
            "response.content_part.added",
            content_index=0,
            **on,
            part={"text": "", "type": "reasoning_text"},
        )
        for piece in reasoning:
            emit("response.reasoning_text.delta", content_index=0, delta=piece, **on)
        whole = "".join(reasoning)
        emit("response.reasoning_text.done", content_index=0, **on, text=whole)
        emit(
            "response.content_part.done",
            content_index=0,
            **on,
            part={"text": whole, "type": "reasoning_text"},
        )
        emit(
            "response.output_item.done",
            item=_vllm_reasoning(VLLM_RS, whole, "completed"),
            output_index=index,
        )
        index += 1
    if text is not None:
        on = {"item_id": VLLM_MSG, "output_index": index}
        emit(
            "response.output_item.added",
            item=_vllm_message(VLLM_MSG, None, "in_progress"),
            output_index=index,
        )
        emit("response.content_part.added", content_index=0, **on, part=_vllm_text_part(""))
        for piece in text:
            emit(
                "response.output_text.delta",
                content_index=0,
                delta=piece,
                item_id=VLLM_MSG,
                logprobs=[],
                output_index=index,
            )
        whole = "".join(text)
        emit(
            "response.output_text.done",
            content_index=0,
            item_id=VLLM_MSG,
            logprobs=[],
            output_index=index,
            text=whole,
        )
        emit("response.content_part.done", content_index=0, **on, part=_vllm_text_part(whole))
        emit(
            "response.output_item.done",
            item=_vllm_message(VLLM_MSG, whole, "completed"),
            output_index=index,
        )
        index += 1
    for n, (name, pieces) in enumerate(calls or []):
        item_id = f"{VLLM_FC}{n}"
        emit(
            "response.output_item.added",
            item=_vllm_call(item_id, name, "", "in_progress"),
            output_index=index,
        )
        for piece in pieces:
            emit(
                "response.function_call_arguments.delta",
                delta=piece,
                item_id=item_id,
                output_index=index,
            )
        arguments = "".join(pieces)
        emit(
            "response.function_call_arguments.done",
            arguments=arguments,
            item_id=item_id,
            name=name,
            output_index=index,
        )
        emit(
            "response.output_item.done",
            item=_vllm_call(item_id, name, arguments, "completed"),
            output_index=index,
        )
        index += 1
    final = vllm_output(
        None if reasoning is None else "".join(reasoning),
        None if text is None else "".join(text),
        [(name, "".join(pieces)) for name, pieces in calls or []],
    )
    emit(f"response.{status}", response=_vllm_response(status, final, _vllm_usage(len(events))))
    return events


def vllm_body(
    reasoning: str | None, text: str | None, calls: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """vLLM's buffered answer (`responses_full_generator`)."""
    return _vllm_response("completed", vllm_output(reasoning, text, calls or []), _vllm_usage(42))


def vllm_sse(events: list[dict[str, Any]]) -> bytes:
    """pydantic's model_dump_json: compact, UTF-8 as it is."""
    return b"".join(
        b"event: %s\ndata: %s\n\n"
        % (e["type"].encode(), json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode())
        for e in events
    )


# -- Ollama ---------------------------------------------------------------------------------

OLLAMA_RESP = "resp_482913"
OLLAMA_MSG = "msg_771204"
OLLAMA_RS = "rs_302117"


def _ollama_response(status: str, output: list[Any], usage: Any) -> dict[str, Any]:
    # buildResponseObject (a map: Go sorts its keys when marshalling).
    return {
        "id": OLLAMA_RESP,
        "object": "response",
        "created_at": 1754000001,
        "completed_at": 1754000009 if status == "completed" else None,
        "status": status,
        "incomplete_details": None,
        "model": "qwen3:8b",
        "previous_response_id": None,
        "instructions": None,
        "output": output,
        "error": None,
        "tools": [],
        "tool_choice": "auto",
        "truncation": "disabled",
        "parallel_tool_calls": True,
        "text": {"format": {"type": "text"}},
        "top_p": 1,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "top_logprobs": 0,
        "temperature": 1,
        "reasoning": None,
        "usage": usage,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "store": False,
        "background": False,
        "service_tier": "default",
        "metadata": {},
        "safety_identifier": None,
        "prompt_cache_key": None,
    }


def _ollama_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _ollama_message(text: str, status: str) -> dict[str, Any]:
    content = [_ollama_text_part(text)] if status == "completed" else []
    return {
        "id": OLLAMA_MSG,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _ollama_reasoning(text: str) -> dict[str, Any]:
    return {
        "id": OLLAMA_RS,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}],
        "encrypted_content": text,
    }


def _ollama_call(n: int, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": f"fc_90417_{n}",
        "type": "function_call",
        "status": status,
        "call_id": f"call_k3j2h{n}",
        "name": name,
        "arguments": arguments,
    }


def ollama_stream(
    thinking: list[str] | None = None,
    text: list[str] | None = None,
    calls: list[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Ollama's /v1/responses stream for chunks of thinking, then text (or tool calls)."""
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({**fields, "type": kind, "sequence_number": len(events)})

    emit("response.created", response=_ollama_response("in_progress", [], None))
    emit("response.in_progress", response=_ollama_response("in_progress", [], None))
    index, completed = 0, []
    if thinking:
        emit(
            "response.output_item.added",
            output_index=0,
            item={"id": OLLAMA_RS, "type": "reasoning", "summary": []},
        )
        for piece in thinking:
            emit(
                "response.reasoning_summary_text.delta",
                item_id=OLLAMA_RS,
                output_index=0,
                summary_index=0,
                delta=piece,
            )
        whole = "".join(thinking)
        emit(
            "response.reasoning_summary_text.done",
            item_id=OLLAMA_RS,
            output_index=0,
            summary_index=0,
            text=whole,
        )
        emit("response.output_item.done", output_index=0, item=_ollama_reasoning(whole))
        completed.append(_ollama_reasoning(whole))
        index = 1
    for n, (name, arguments) in enumerate(calls or []):
        i = index + n
        emit(
            "response.output_item.added",
            output_index=i,
            item=_ollama_call(n, name, "", "in_progress"),
        )
        emit(
            "response.function_call_arguments.delta",
            item_id=f"fc_90417_{n}",
            output_index=i,
            delta=arguments,
        )
        emit(
            "response.function_call_arguments.done",
            item_id=f"fc_90417_{n}",
            output_index=i,
            arguments=arguments,
        )
        emit(
            "response.output_item.done",
            output_index=i,
            item=_ollama_call(n, name, arguments, "completed"),
        )
        completed.append(_ollama_call(n, name, arguments, "completed"))
    if text and not calls:
        on = {"item_id": OLLAMA_MSG, "output_index": index, "content_index": 0}
        emit(
            "response.output_item.added",
            output_index=index,
            item=_ollama_message("", "in_progress"),
        )
        emit("response.content_part.added", **on, part=_ollama_text_part(""))
        for piece in text:
            emit("response.output_text.delta", **on, delta=piece, logprobs=[])
        whole = "".join(text)
        emit("response.output_text.done", **on, text=whole, logprobs=[])
        emit("response.content_part.done", **on, part=_ollama_text_part(whole))
        emit(
            "response.output_item.done",
            output_index=index,
            item=_ollama_message(whole, "completed"),
        )
        completed.append(_ollama_message(whole, "completed"))
    usage = {
        "input_tokens": 14,
        "output_tokens": 30,
        "total_tokens": 44,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    emit("response.completed", response=_ollama_response("completed", completed, usage))
    return events


def ollama_body(thinking: str, text: str) -> dict[str, Any]:
    """`ToResponse` (structs: declared field order, omitempty fields left out)."""
    output: list[dict[str, Any]] = []
    if thinking:
        output.append(_ollama_reasoning(thinking))
    output.append(_ollama_message(text, "completed"))
    body = _ollama_response("completed", output, None)
    body["usage"] = {
        "input_tokens": 14,
        "output_tokens": 30,
        "total_tokens": 44,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    return body


def go_json(obj: Any, sort_keys: bool = True) -> bytes:
    """Go's json.Marshal: maps with sorted keys, HTML characters escaped, UTF-8 as it is."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escape)  # these occur only inside strings in JSON
    return text.encode()


def ollama_sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), go_json(e)) for e in events)


def ollama_body_bytes(body: dict[str, Any]) -> bytes:
    """json.NewEncoder(w).Encode: a struct (field order kept) and a trailing newline."""
    return go_json(body, sort_keys=False) + b"\n"
