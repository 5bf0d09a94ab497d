"""A scripted reasoning model for `make demo`: an OpenAI-compatible server that thinks first.

It answers `POST …/chat/completions` and `POST …/completions`, streamed (`"stream": true`) and not, and
`GET …/models`. Every answer starts with a `<think>…</think>` block, as Qwen3 or DeepSeek-R1 write it,
so that the proxy in front of it has something to remove. A development tool: not part of the image.

    python demo/upstream.py --port 8099
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

MODEL = "demo-reasoner"
THINK = "<think>The user wants an answer. I will think first, then answer briefly.</think>\n\n"
ANSWER = "Hello! I thought about this first; the proxy removed that part."
STREAM_DELAY = 0.05  # seconds between streamed pieces, so that streaming shows


def pieces(text: str) -> list[str]:
    """The text in small pieces, as a model streams tokens (tags split across pieces too)."""
    return [text[i : i + 6] for i in range(0, len(text), 6)]


def chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-demo",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def text_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "cmpl-demo",
        "object": "text_completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
    }


def usage() -> dict[str, int]:
    return {"prompt_tokens": 5, "completion_tokens": 30, "total_tokens": 35}


def buffered(chat: bool) -> dict[str, Any]:
    if chat:
        answer = chat_chunk({}, "stop")
        answer["object"] = "chat.completion"
        answer["choices"][0] = {
            "index": 0,
            "message": {"role": "assistant", "content": THINK + ANSWER},
            "finish_reason": "stop",
        }
    else:
        answer = text_chunk(THINK + ANSWER, "stop")
    answer["usage"] = usage()
    return answer


def events(chat: bool) -> list[dict[str, Any]]:
    if chat:
        out = [chat_chunk({"role": "assistant", "content": ""})]
        out += [chat_chunk({"content": p}) for p in pieces(THINK + ANSWER)]
        return out + [chat_chunk({}, "stop")]
    return [text_chunk(p) for p in pieces(THINK + ANSWER)] + [text_chunk("", "stop")]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cot-proxy-demo"

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self.not_found()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send_json(400, error("The request body is not valid JSON."))
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            chat = True
        elif path.endswith("/completions"):
            chat = False
        else:
            self.not_found()
            return
        if isinstance(request, dict) and request.get("stream"):
            self.send_stream(events(chat))
        else:
            self.send_json(200, buffered(chat))

    def not_found(self) -> None:
        self.send_json(404, error(f"The demo model does not serve {self.path}."))

    def send_json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_stream(self, objs: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, obj in enumerate([*objs, "[DONE]"]):
            if i:
                time.sleep(STREAM_DELAY)
            data = obj if isinstance(obj, str) else json.dumps(obj)
            self.write_chunk(f"data: {data}\n\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        logging.info("demo upstream: " + format, *args)


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
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
