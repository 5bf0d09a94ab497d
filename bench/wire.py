"""The wire formats the benchmark speaks: what the scripted upstream writes, what the client reads.

One scripted text per answer (`script`), written in five shapes:

- `chat`, `completions`: OpenAI chat and legacy completions (vLLM's shape:
  vllm/entrypoints/openai/serving_chat.py and serving_completion.py), SSE ending in `data: [DONE]`;
- `responses`: the OpenAI Responses API as vLLM streams it (vllm/entrypoints/openai/
  serving_responses.py; field names from openai-python's openai/types/responses/*_event.py):
  `event:` + `data:` pairs response.created, response.in_progress, response.output_item.added,
  response.content_part.added, one response.output_text.delta per token, then
  response.output_text.done, response.content_part.done, response.output_item.done and
  response.completed;
- `messages`: Anthropic Messages (anthropic-sdk-python's anthropic/types/raw_*_event.py, the
  order of Anthropic's streaming docs): message_start, content_block_start, a ping,
  content_block_delta/text_delta per token, content_block_stop, message_delta, message_stop;
- `ollama`: Ollama's native /api/chat (ollama/_types.py ChatResponse; server/routes.go
  ChatHandler): application/x-ndjson, one JSON line per token, the last with "done": true.
  Ollama writes JSON with Go's encoding/json, which escapes <, > and & as \\u003c, \\u003e,
  \\u0026, so a think tag arrives escaped, as it does from a real Ollama.

Stdlib only; shared by bench/upstream.py and bench/load.py.
"""

from __future__ import annotations

import json
from typing import Any

CREATED = 1_700_000_000
FORMATS = ("chat", "completions", "responses", "messages", "ollama")
PATHS = {
    "chat": "/v1/chat/completions",
    "completions": "/v1/completions",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
    "ollama": "/api/chat",
}
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


def script(tokens: int, think_tokens: int) -> tuple[list[str], list[str]]:
    """(think pieces, answer pieces): the content of every streamed text event, in order.

    With think_tokens > 0 the think pieces are "<think>", the think tokens, "</think>", "\\n\\n".
    """
    think: list[str] = []
    if think_tokens > 0:
        think = ["<think>"] + [f" t{i}" for i in range(1, think_tokens + 1)] + ["</think>", "\n\n"]
    answer = ["Answer"] + [f" a{i}" for i in range(1, tokens)] if tokens > 0 else []
    return think, answer


def expected_text(tokens: int, think_tokens: int, stripped: bool) -> tuple[str, int]:
    """(the whole content a client should receive, length of the think prefix in it)."""
    think, answer = script(tokens, think_tokens)
    answer_text = "".join(answer)
    if stripped:
        return answer_text, 0
    prefix = "".join(think)
    return prefix + answer_text, len(prefix)


def endpoint_of(path: bytes) -> str | None:
    """The format a request path asks for (by its end, so any prefix works)."""
    bare = path.split(b"?", 1)[0].rstrip(b"/")
    for name in ("chat", "completions", "responses", "messages", "ollama"):
        if bare.endswith(PATHS[name].rsplit("/v1", 1)[-1].encode()):
            return name
    return None


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _go_dumps(obj: Any) -> bytes:
    """JSON as Go's encoding/json writes it (Ollama): compact, HTML characters escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def _sse(obj: Any, event: str | None = None) -> bytes:
    data = obj if isinstance(obj, bytes) else dumps(obj)
    return (b"event: " + event.encode() + b"\n" if event else b"") + b"data: " + data + b"\n\n"


def content_type(fmt: str, stream: bool) -> str:
    if not stream:
        return "application/json"
    return NDJSON if fmt == "ollama" else SSE


# -- what the upstream writes ---------------------------------------------------------------------


def stream_events(fmt: str, tokens: int, think_tokens: int) -> list[bytes]:
    """The events of one streamed answer, each complete (SSE blank line or NDJSON newline)."""
    think, answer = script(tokens, think_tokens)
    pieces = think + answer
    return _STREAMS[fmt](pieces, "".join(pieces))


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def chat_event(content: str) -> bytes:
    """One chat SSE event with this content delta (the think-filter micro-benchmark's unit)."""
    return _sse(chat_chunk({"content": content}))


def _chat_stream(pieces: list[str], _text: str) -> list[bytes]:
    events = [_sse(chat_chunk({"role": "assistant", "content": ""}))]
    events += [chat_event(piece) for piece in pieces]
    return events + [_sse(chat_chunk({}, "stop")), _sse(b"[DONE]")]


def _completions_stream(pieces: list[str], _text: str) -> list[bytes]:
    def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "cmpl-bench",
            "object": "text_completion",
            "created": CREATED,
            "model": "bench",
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
        }

    events = [_sse(chunk(piece)) for piece in pieces]
    return events + [_sse(chunk("", "stop")), _sse(b"[DONE]")]


def _response_obj(status: str, text: str | None) -> dict[str, Any]:
    output = []
    if text is not None:
        output = [_message_item("completed", text)]
    return {
        "id": "resp_bench",
        "object": "response",
        "created_at": CREATED,
        "model": "bench",
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": None if text is None else _responses_usage(),
    }


def _responses_usage() -> dict[str, Any]:
    return {
        "input_tokens": 8,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 16,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 24,
    }


def _message_item(status: str, text: str | None) -> dict[str, Any]:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def _responses_stream(pieces: list[str], text: str) -> list[bytes]:
    seq = iter(range(1_000_000_000))
    where = {"item_id": "msg_bench", "output_index": 0, "content_index": 0}

    def event(kind: str, **fields: Any) -> bytes:
        return _sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

    part = {"type": "output_text", "text": "", "annotations": []}
    events = [
        event("response.created", response=_response_obj("in_progress", None)),
        event("response.in_progress", response=_response_obj("in_progress", None)),
        event(
            "response.output_item.added", output_index=0, item=_message_item("in_progress", None)
        ),
        event("response.content_part.added", **where, part=part),
    ]
    events += [
        event("response.output_text.delta", **where, delta=piece, logprobs=[]) for piece in pieces
    ]
    events += [
        event("response.output_text.done", **where, text=text, logprobs=[]),
        event("response.content_part.done", **where, part={**part, "text": text}),
        event("response.output_item.done", output_index=0, item=_message_item("completed", text)),
        event("response.completed", response=_response_obj("completed", text)),
    ]
    return events


def _message_obj(text: str | None) -> dict[str, Any]:
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench",
        "content": [] if text is None else [{"type": "text", "text": text}],
        "stop_reason": None if text is None else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 8, "output_tokens": 1 if text is None else 16},
    }


def _messages_stream(pieces: list[str], _text: str) -> list[bytes]:
    def event(kind: str, **fields: Any) -> bytes:
        return _sse({"type": kind, **fields}, kind)

    events = [
        event("message_start", message=_message_obj(None)),
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        event("ping"),
    ]
    events += [
        event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
        for piece in pieces
    ]
    events += [
        event("content_block_stop", index=0),
        event(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": 16},
        ),
        event("message_stop"),
    ]
    return events


_OLLAMA_AT = "2023-11-14T22:13:20.000000Z"
_OLLAMA_DONE = {
    "done_reason": "stop",
    "total_duration": 1_000_000,
    "load_duration": 10_000,
    "prompt_eval_count": 8,
    "prompt_eval_duration": 100_000,
    "eval_count": 16,
    "eval_duration": 800_000,
}


def _ollama_line(content: str, done: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "model": "bench",
        "created_at": _OLLAMA_AT,
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    return {**line, **_OLLAMA_DONE} if done else line


def _ollama_stream(pieces: list[str], _text: str) -> list[bytes]:
    lines = [_ollama_line(piece, False) for piece in pieces] + [_ollama_line("", True)]
    return [_go_dumps(line) + b"\n" for line in lines]


_STREAMS = {
    "chat": _chat_stream,
    "completions": _completions_stream,
    "responses": _responses_stream,
    "messages": _messages_stream,
    "ollama": _ollama_stream,
}


def json_body(fmt: str, tokens: int, think_tokens: int) -> bytes:
    """The buffered (non-streamed) answer."""
    think, answer = script(tokens, think_tokens)
    text = "".join(think + answer)
    if fmt == "responses":
        return dumps(_response_obj("completed", text))
    if fmt == "messages":
        return dumps(_message_obj(text))
    if fmt == "ollama":
        return _go_dumps(_ollama_line(text, True))
    count = len(think) + len(answer)
    usage = {"prompt_tokens": 8, "completion_tokens": count, "total_tokens": 8 + count}
    if fmt == "chat":
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
        kind, ident = "chat.completion", "chatcmpl-bench"
    else:
        choice = {"index": 0, "text": text}
        kind, ident = "text_completion", "cmpl-bench"
    choice.update(logprobs=None, finish_reason="stop")
    return dumps(
        {
            "id": ident,
            "object": kind,
            "created": CREATED,
            "model": "bench",
            "choices": [choice],
            "usage": usage,
        }
    )


# -- what the client reads ------------------------------------------------------------------------


def event_text(fmt: str, obj: Any) -> tuple[str | None, bool]:
    """(the answer text one decoded event carries, whether it ends the stream)."""
    if fmt == "chat" or fmt == "completions":  # the end is data: [DONE], seen by the caller
        text = None
        for choice in obj.get("choices") or ():
            container = choice.get("delta") if fmt == "chat" else choice
            if container and container.get("content" if fmt == "chat" else "text"):
                text = (text or "") + container["content" if fmt == "chat" else "text"]
        return text, False
    if fmt == "responses":
        kind = obj.get("type")
        if kind == "response.output_text.delta":
            return obj.get("delta"), False
        return None, kind == "response.completed"
    if fmt == "messages":
        kind = obj.get("type")
        if kind == "content_block_delta":
            delta = obj.get("delta") or {}
            return (delta.get("text") if delta.get("type") == "text_delta" else None), False
        return None, kind == "message_stop"
    message = obj.get("message") or {}
    return message.get("content") or None, bool(obj.get("done"))


def body_text(fmt: str, obj: Any) -> str:
    """The answer text of a buffered answer."""
    if fmt == "chat":
        return obj["choices"][0]["message"]["content"]
    if fmt == "completions":
        return obj["choices"][0]["text"]
    if fmt == "responses":
        return "".join(
            part["text"]
            for item in obj["output"]
            if item.get("type") == "message"
            for part in item["content"]
            if part.get("type") == "output_text"
        )
    if fmt == "messages":
        return "".join(block["text"] for block in obj["content"] if block.get("type") == "text")
    return obj["message"]["content"]
