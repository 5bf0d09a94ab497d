"""Ollama's native API as its Go server writes it, byte for byte: lines for scripted upstreams.

Where each shape comes from (ollama/ollama):
- api/types.go: ChatResponse (model, created_at, message, done, done_reason, then the Metrics
  counters, all `omitempty`), Message (role, content, then thinking, images, tool_calls,
  omitempty), ToolCall {function: {index, name, arguments}}, GenerateResponse (model,
  created_at, response, thinking, done, done_reason, context, Metrics, tool_calls).
- server/routes.go `streamResponse`: `application/x-ndjson`, each value `json.Marshal`ed with a
  "\\n" after it; a failure after the first line is the line `{"error":"..."}` and the end.
  `writeChatResponse` / GenerateHandler with `"stream": false`: one object through gin's
  c.JSON (`application/json; charset=utf-8`, json.Marshal, no newline).
- Go's json.Marshal escapes <, > and & as \\u003c, \\u003e and \\u0026 (and U+2028/9), so a
  think tag arrives as \\u003cthink\\u003e; time.Time marshals as RFC3339Nano (trailing zeros of
  the fraction trimmed); server/routes.go stamps each line with time.Now().UTC().
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from .upstream import Received
from .upstream import Reply

MODEL = "qwen3:8b"
_START = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)
# Go escapes these in every string (encoding/json, HTMLEscape and the JS line separators).
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
# The done line's counters (api.Metrics), in nanoseconds and tokens.
METRICS: dict[str, int] = {
    "total_duration": 2_410_733_583,
    "load_duration": 41_283_625,
    "prompt_eval_count": 12,
    "prompt_eval_duration": 97_000_000,
    "eval_count": 57,
    "eval_duration": 2_270_000_041,
}


def go_json(obj: Any) -> bytes:
    """json.Marshal's bytes for `obj` (keys in the order given, as Go's struct fields are)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)  # only strings can hold them
    return text.encode("utf-8")


def created_at(step: int) -> str:
    """time.Time's RFC3339Nano for the `step`-th line: nanoseconds, trailing zeros trimmed."""
    nanos = 123_456_789 + step * 21_000_007
    stamp = _START + datetime.timedelta(seconds=nanos // 1_000_000_000)
    fraction = f"{nanos % 1_000_000_000:09d}".rstrip("0")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def chat_line(
    content: str = "",
    *,
    step: int = 0,
    thinking: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    done_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One api.ChatResponse; `done_reason` given: the last line, with the counters."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    if tool_calls:
        message["tool_calls"] = tool_calls
    line: dict[str, Any] = {"model": MODEL, "created_at": created_at(step), "message": message}
    line["done"] = done_reason is not None
    if done_reason is not None:
        line.update(done_reason=done_reason, **METRICS)
    line.update(extra)
    return line


def generate_line(
    response: str = "",
    *,
    step: int = 0,
    thinking: str = "",
    done_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One api.GenerateResponse; the last line also has `context` (the prompt's tokens)."""
    line: dict[str, Any] = {"model": MODEL, "created_at": created_at(step), "response": response}
    if thinking:
        line["thinking"] = thinking
    line["done"] = done_reason is not None
    if done_reason is not None:
        line.update(done_reason=done_reason, context=[151644, 872, 198, 13048], **METRICS)
    line.update(extra)
    return line


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    """An api.ToolCall as Ollama's tool parsers emit it."""
    return {"function": {"index": 0, "name": name, "arguments": arguments}}


def line_of(endpoint: str, text: str = "", **fields: Any) -> dict[str, Any]:
    return (chat_line if endpoint == "chat" else generate_line)(text, **fields)


def stream_lines(
    endpoint: str,
    pieces: list[str],
    *,
    thinking: Sequence[str] = (),
    done_reason: str = "stop",
) -> list[dict[str, Any]]:
    """A stream as Ollama sends it: thinking pieces first (with `think: true`), then one line per
    text piece, then the done line with empty text."""
    lines = [line_of(endpoint, "", step=i, thinking=t) for i, t in enumerate(thinking)]
    lines += [line_of(endpoint, p, step=len(lines) + i) for i, p in enumerate(pieces)]
    lines.append(line_of(endpoint, "", step=len(lines), done_reason=done_reason))
    return lines


def ndjson(lines: list[dict[str, Any]]) -> list[bytes]:
    """Each line as streamResponse writes it."""
    return [go_json(line) + b"\n" for line in lines]


def error_line(message: str) -> bytes:
    return go_json({"error": message}) + b"\n"


# -- replies of a scripted upstream (tests/e2e/upstream.py) --------------------------------------


def ndjson_handler(
    chunks: list[bytes], delay: float = 0.0
) -> Callable[[Received, Reply], Awaitable[None]]:
    """Stream `chunks` (each one network write) as Go's net/http does a flushed answer: chunked,
    `application/x-ndjson` (server/routes.go streamResponse)."""

    async def handler(req: Received, reply: Reply) -> None:
        await reply.head(
            200, {"Content-Type": "application/x-ndjson", "Transfer-Encoding": "chunked"}
        )
        for i, data in enumerate(chunks):
            if delay and i:
                await asyncio.sleep(delay)
            await reply.chunk(data)
        await reply.end_chunks()

    return handler


def json_handler(obj: Any, status: int = 200) -> Callable[[Received, Reply], Awaitable[None]]:
    """A `"stream": false` answer (or an error before streaming) as gin's c.JSON writes it."""

    async def handler(req: Received, reply: Reply) -> None:
        await reply.body(status, go_json(obj), {"Content-Type": "application/json; charset=utf-8"})

    return handler
