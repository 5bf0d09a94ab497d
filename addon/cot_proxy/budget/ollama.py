"""One Ollama `/api/chat` answer under a budget (NDJSON), made of the upstream's stream and the
continuation's: the counterpart of `cot_proxy.budget.chat` for Ollama's native API.

Pure logic, no mitmproxy import. Shapes as ollama/ollama sends them (api/types.go ChatResponse:
`model`, `created_at`, `message` {role, content, thinking}, `done`; the last line `done: true`
with `done_reason`, `prompt_eval_count`, `eval_count` and the durations). Ollama reports no
reasoning token count of its own.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy.budget.events import LineSplitter
from cot_proxy.budget.events import json_object
from cot_proxy.budget.session import Session

_COUNTS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_count",
           "eval_duration")  # fmt: skip


def line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


class OllamaSession(Session):
    content_type = "application/x-ndjson"
    splitter = LineSplitter

    def __init__(self, budget: int, *, streamed: bool) -> None:
        super().__init__(budget, streamed=streamed)
        self._held = ""  # the continuation's thinking, until it is known what it is
        self._answering = False
        self.model: Any = None
        self.last: dict[str, Any] | None = None  # the done line
        self._content = ""
        self._thinking = ""

    def first(self, data: bytes) -> bytes:
        out = b""
        for raw in self._split.feed(data):
            if self.forced:
                break
            obj = json_object(raw)
            if obj is None:
                continue
            if self.model is None:
                self.model = obj.get("model")
            message = obj.get("message")
            if isinstance(message, dict):
                thinking = message.get("thinking")
                if isinstance(thinking, str) and thinking:
                    kept = self.meter.take(thinking)
                    if kept != thinking and not self.answered:
                        self.forced = True
                        obj["done"] = False
                        for key in ("done_reason", *_COUNTS):
                            obj.pop(key, None)
                    message["thinking"] = kept
                    if kept:
                        self.reasoning.append(kept)
                content = message.get("content")
                self.answered = self.answered or (
                    isinstance(content, str) and bool(content.strip())
                )
            out += self._emit(obj, None)
        return out

    def second(self, data: bytes) -> bytes:
        out = b""
        for raw in self._split.feed(data):
            obj = json_object(raw)
            if obj is None:
                continue
            obj["model"] = self.model
            message = obj.get("message")
            if not isinstance(message, dict):
                message = obj["message"] = {"role": "assistant", "content": ""}
            # thinking is held until it is known what it is (cot_proxy.budget.chat, _settled)
            if isinstance(thought := message.pop("thinking", None), str):
                self._held += thought
            content = message.get("content")
            self._answering = self._answering or (
                isinstance(content, str) and bool(content.strip())
            )
            if self._held and self._answering:
                if kept := self.slack.take(self._held):
                    message["thinking"] = kept
                self._held = ""
            elif self._held and obj.get("done") is True:
                if obj.get("done_reason") == "stop":  # the answer, misfiled as thinking
                    message["content"] = self._held + (content or "")
                self._held = ""
            if obj.get("done") is True:
                obj["eval_count"] = int(obj.get("eval_count") or 0) + self.meter.used
            elif not message.get("content") and not message.get("thinking"):
                continue
            out += self._emit(obj, None)
        return out

    def finish(self) -> bytes:
        if self.streamed:
            return b""
        answer = dict(self.last or {"model": self.model, "done": True})
        answer["message"] = {"role": "assistant", "content": self._content}
        if self._thinking:
            answer["message"]["thinking"] = self._thinking
        return json.dumps(answer, ensure_ascii=False).encode()

    def _emit(self, obj: dict[str, Any], raw: bytes | None) -> bytes:
        message = obj.get("message")
        if isinstance(message, dict):
            self._content += message.get("content") or ""
            self._thinking += message.get("thinking") or ""
        if obj.get("done") is True:
            self.last = obj
        if not self.streamed:
            return b""
        return raw if raw is not None else line(obj)
