"""A scripted reasoning model for `make demo`: an LLM server, in every format the proxy speaks,
whose model always thinks first.

It answers OpenAI's `POST …/chat/completions`, `…/completions` and `…/responses`, Anthropic's
`POST …/messages` and Ollama's `POST /api/chat` and `/api/generate`, streamed and not, and lists
its model (`GET …/models`, `GET /api/tags`). Every answer starts with a `<think>…</think>` block,
as Qwen3 or DeepSeek-R1 write it, so that the proxy in front of it has something to remove.

Any key, or none, is accepted except a wrong one: a request with a key (`Authorization: Bearer …`,
`x-api-key`, `api-key`) other than the demo's (`--api-key`, default `demo`) gets a 401, in the
shape of its format. A development tool: not part of the image.

    python demo/upstream.py --port 8099
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

MODEL = "demo-reasoner"
THINK = "<think>The user wants an answer. I will think first, then answer briefly.</think>\n\n"
ANSWER = "Hello! I thought about this first; the proxy removed that part."
TEXT = THINK + ANSWER
STREAM_DELAY = 0.05  # seconds between streamed pieces, so that streaming shows

Obj = dict[str, Any]


def pieces(text: str = TEXT) -> list[str]:
    """The text in small pieces, as a model streams tokens (tags split across pieces too)."""
    return [text[i : i + 6] for i in range(0, len(text), 6)]


# --- OpenAI chat and completions: `data: {json}` events, then `data: [DONE]` ---------------------


def chat_chunk(delta: Obj, finish: str | None = None) -> Obj:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {
        "id": "chatcmpl-demo",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [choice],
    }


def text_chunk(text: str, finish: str | None = None) -> Obj:
    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
    return {
        "id": "cmpl-demo",
        "object": "text_completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [choice],
    }


USAGE = {"prompt_tokens": 5, "completion_tokens": 30, "total_tokens": 35}


def chat(stream: bool) -> Obj | list[Obj]:
    if stream:
        deltas = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces()]
        return [chat_chunk(d) for d in deltas] + [chat_chunk({}, "stop")]
    answer = chat_chunk({}, "stop") | {"object": "chat.completion", "usage": USAGE}
    message = {"role": "assistant", "content": TEXT}
    answer["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
    return answer


def completions(stream: bool) -> Obj | list[Obj]:
    if stream:
        return [text_chunk(p) for p in pieces()] + [text_chunk("", "stop")]
    return text_chunk(TEXT, "stop") | {"usage": USAGE}


# --- OpenAI Responses: named events, each with its sequence number ------------------------------


def response(status: str, output: list[Obj]) -> Obj:
    return {
        "id": "resp_demo",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": MODEL,
        "output": output,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": None,
        "top_p": None,
        "usage": {"input_tokens": 5, "output_tokens": 30, "total_tokens": 35},
    }


def output_message(status: str, text: str | None) -> Obj:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
    return {
        "type": "message",
        "id": "msg_demo",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def responses(stream: bool) -> Obj | list[Obj]:
    done = output_message("completed", TEXT)
    if not stream:
        return response("completed", [done])
    part = {"type": "output_text", "text": "", "annotations": []}
    at = {"item_id": "msg_demo", "output_index": 0, "content_index": 0}
    events: list[Obj] = [
        {"type": "response.created", "response": response("in_progress", [])},
        {"type": "response.in_progress", "response": response("in_progress", [])},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": output_message("in_progress", None),
        },
        {"type": "response.content_part.added", **at, "part": part},
        *({"type": "response.output_text.delta", **at, "delta": p} for p in pieces()),
        {"type": "response.output_text.done", **at, "text": TEXT},
        {"type": "response.content_part.done", **at, "part": part | {"text": TEXT}},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": response("completed", [done])},
    ]
    return [event | {"sequence_number": n} for n, event in enumerate(events)]


# --- Anthropic Messages: named events ----------------------------------------------------------


def message(content: list[Obj], stop_reason: str | None) -> Obj:
    return {
        "id": "msg_demo",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 30},
    }


def messages(stream: bool) -> Obj | list[Obj]:
    if not stream:
        return message([{"type": "text", "text": TEXT}], "end_turn")
    return [
        {"type": "message_start", "message": message([], None)},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in pieces()
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 30},
        },
        {"type": "message_stop"},
    ]


# --- Ollama's native API: one JSON object a line, the last one `"done": true` -------------------


def ollama_line(field: str, text: str, done: bool) -> Obj:
    value: Any = {"role": "assistant", "content": text} if field == "message" else text
    line = {
        "model": MODEL,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        field: value,
        "done": done,
    }
    if done:
        line |= {
            "done_reason": "stop",
            "total_duration": 1_500_000_000,
            "prompt_eval_count": 5,
            "eval_count": 30,
        }
        if field == "response":
            line["context"] = [1, 2, 3]
    return line


def ollama(field: str) -> Callable[[bool], Obj | list[Obj]]:
    def answer(stream: bool) -> Obj | list[Obj]:
        if not stream:
            return ollama_line(field, TEXT, True)
        return [ollama_line(field, p, False) for p in pieces()] + [ollama_line(field, "", True)]

    return answer


# --- the server --------------------------------------------------------------------------------

Answer = Callable[[bool], Obj | list[Obj]]
# (path ending, answer, how its stream is framed), tried in order.
ENDPOINTS: tuple[tuple[str, Answer, str], ...] = (
    ("/chat/completions", chat, "data"),
    ("/completions", completions, "data"),
    ("/responses", responses, "events"),
    ("/messages", messages, "events"),
    ("/api/chat", ollama("message"), "ndjson"),
    ("/api/generate", ollama("response"), "ndjson"),
)


def openai_error(message: str, code: str | None = None) -> Obj:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


def error_for(path: str, status: int, message: str, code: str | None = None) -> Obj:
    """An error in the shape the path's clients read."""
    if path.endswith("/messages"):
        kind = "authentication_error" if status == 401 else "invalid_request_error"
        return {"type": "error", "error": {"type": kind, "message": message}}
    if "/api/" in path:
        return {"error": message}
    return openai_error(message, code)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cot-proxy-demo"
    api_key = "demo"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self.key_ok(path):
            return
        if path.endswith("/api/tags"):
            model = {"name": f"{MODEL}:latest", "model": f"{MODEL}:latest", "size": 1}
            self.send_json(200, {"models": [model]})
        elif path.endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self.send_json(404, error_for(path, 404, f"The demo model does not serve {path}."))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not self.key_ok(path):
            return
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            self.send_json(400, error_for(path, 400, "The request body is not valid JSON."))
            return
        for ending, answer, framing in ENDPOINTS:
            if path.endswith(ending):
                # Ollama streams unless told not to; the others only when asked.
                asked = (
                    request.get("stream", framing == "ndjson")
                    if isinstance(request, dict)
                    else False
                )
                result = answer(bool(asked))
                if isinstance(result, list):
                    self.send_stream(result, framing)
                else:
                    self.send_json(200, result)
                return
        self.send_json(404, error_for(path, 404, f"The demo model does not serve {path}."))

    def key_ok(self, path: str) -> bool:
        """No key or the demo's: go on. Any other key: a 401 in the format's shape."""
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer").strip()
        key = bearer or self.headers.get("x-api-key", "") or self.headers.get("api-key", "")
        if not key or key == self.api_key:
            return True
        if path.endswith("/messages"):
            self.send_json(401, error_for(path, 401, "invalid x-api-key"))
        else:
            message = f"Incorrect API key provided: {key}."
            self.send_json(401, error_for(path, 401, message, "invalid_api_key"))
        return False

    def send_json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_stream(self, objs: list[Obj], framing: str) -> None:
        kind = "application/x-ndjson" if framing == "ndjson" else "text/event-stream"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, obj in enumerate(objs):
            if i:
                time.sleep(STREAM_DELAY)
            self.write_chunk(frame(obj, framing))
        if framing == "data":
            self.write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        logging.info("demo upstream: " + format, *args)


def frame(obj: Obj, framing: str) -> bytes:
    data = json.dumps(obj)
    if framing == "ndjson":
        return f"{data}\n".encode()
    if framing == "events":
        return f"event: {obj['type']}\ndata: {data}\n\n".encode()
    return f"data: {data}\n\n".encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (mid-stream, say) is one line, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logging.info("demo upstream: the client hung up (%s)", type(error).__name__)
        else:
            super().handle_error(request, client_address)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=Handler.api_key, help="the one key that is not wrong")
    args = parser.parse_args()
    Handler.api_key = args.api_key
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = Server((args.host, args.port), Handler)
    logging.info(
        "demo upstream: a scripted reasoning model on http://%s:%d/v1", args.host, args.port
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
