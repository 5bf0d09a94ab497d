"""One legacy completions answer (`/v1/completions`) under a budget, made of the upstream's stream
and the continuation's: the counterpart of `cot_proxy.budget.chat` for prompt completion.

Pure logic, no mitmproxy import. Shapes (vLLM entrypoints/openai/protocol.py
CompletionStreamResponse; llama.cpp tools/server/server-task.cpp `to_json_oaicompat`): SSE
chunks `{id, object: "text_completion", created, model, choices: [{index, text, logprobs,
finish_reason}]}`, `usage` in a last chunk (vLLM: with `stream_options.include_usage`, its
`choices` empty; llama.cpp: on the final chunk), then `data: [DONE]`. No server parses reasoning
here: the thought is inline in `text`, between the family's tags (inside from the start when the
prompt opened it). The continuation is the easiest of all: prompt completion continues any text,
so its prompt is the prompt, the text so far, the wrap-up and the end tag
(`cot_proxy.budget.continuation`). `reasoning` holds the whole text so far, which that needs.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy.budget.chat import sse
from cot_proxy.budget.count import InlineTags
from cot_proxy.budget.events import event_object
from cot_proxy.budget.session import Session

_HEAD = ("id", "created", "model", "system_fingerprint")


class CompletionsSession(Session):
    def __init__(self, budget: int, *, streamed: bool, tags: tuple[str, str], inside: bool) -> None:
        super().__init__(budget, streamed=streamed)
        self.tags = tags
        self.inline = InlineTags(*tags, inside=inside)
        self.again = InlineTags(*tags)  # the continuation starts after the thought
        self.reasoning: list[str] = []  # the text so far, tags and all, as generated
        self.head: dict[str, Any] = {}
        self.usage: list[dict[str, Any]] = []
        self.text = ""  # what the client got, for a buffered answer
        self.finish_reason: Any = None

    def first(self, data: bytes) -> bytes:
        out = b""
        for event in self._split.feed(data):
            if self.forced:
                break
            chunk = event_object(event)
            if chunk is None:
                out += event if self.streamed else b""
                continue
            if not self.head:
                self.head = {k: chunk[k] for k in _HEAD if k in chunk}
            changed = self._usage(chunk)
            choice = _choice(chunk)
            if choice is not None and isinstance(choice.get("text"), str):
                kept = self._text(choice["text"])
                if kept != choice["text"] or self.forced:
                    choice["text"] = kept
                    choice["finish_reason"] = None
                    changed = True
            out += self._emit(chunk, None if changed else event)
        return out

    def _text(self, text: str) -> str:
        kept = ""
        for kind, piece in self.inline.split(text):
            if kind == "think":
                part = self.meter.take(piece)
                kept += part
                self.reasoning.append(part)
                if part != piece and not self.answered:
                    self.forced = True
                    return kept + self.tags[1]  # the client's filter sees the thought close
            else:
                self.answered = self.answered or (kind == "text" and bool(piece.strip()))
                kept += piece
                self.reasoning.append(piece)
        return kept

    def second(self, data: bytes) -> bytes:
        out = b""
        for event in self._split.feed(data):
            chunk = event_object(event)
            if chunk is None:
                continue
            chunk.update(self.head)
            if self._usage(chunk, count=False) and not _choice(chunk):
                continue  # summed into the last chunk
            chunk.pop("usage", None)
            choice = _choice(chunk)
            if choice is None:
                continue
            text = choice.get("text")
            if isinstance(text, str):  # it thought again: up to the slack
                pieces = self.again.split(text)
                choice["text"] = "".join(
                    self.slack.take(p) if k == "think" else p for k, p in pieces
                )
            if choice.get("text") or choice.get("finish_reason") is not None:
                out += self._emit(chunk, None)
        return out

    def finish(self) -> bytes:
        if not self.streamed:
            return json.dumps(self.buffered(), ensure_ascii=False).encode()
        if not self.forced:
            return b""  # the first answer's own end went through
        out = b""
        if self.usage:
            out += sse({**self.head, "object": "text_completion", "choices": [],
                        "usage": self.summed()})  # fmt: skip
        return out + sse("[DONE]")

    def summed(self) -> dict[str, Any]:
        """The continuation's usage plus the reasoning counted before it (its prompt holds that
        reasoning: `prompt_tokens` is the continuation's own); the reasoning tokens from the
        proxy's count (completions report none)."""
        last = dict(self.usage[-1]) if self.usage else {}
        if self.forced:
            last["completion_tokens"] = int(last.get("completion_tokens") or 0) + self.meter.used
            last["total_tokens"] = int(last.get("prompt_tokens") or 0) + last["completion_tokens"]
        details = dict(last.get("completion_tokens_details") or {})
        details["reasoning_tokens"] = details.get("reasoning_tokens") or self.counted
        last["completion_tokens_details"] = details
        return last

    def _usage(self, chunk: dict[str, Any], count: bool = True) -> bool:
        usage = chunk.get("usage")
        if not isinstance(usage, dict):
            return False
        self.usage.append(usage)
        if count and not self.forced:
            chunk["usage"] = self.summed()
        return True

    def _emit(self, chunk: dict[str, Any], raw: bytes | None) -> bytes:
        choice = _choice(chunk)
        if choice is not None:
            self.text += choice.get("text") or ""
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        if not self.streamed:
            return b""
        return raw if raw is not None else sse(chunk)

    def buffered(self) -> dict[str, Any]:
        answer = {**self.head, "object": "text_completion"}
        answer["choices"] = [{"index": 0, "text": self.text, "logprobs": None,
                              "finish_reason": self.finish_reason}]  # fmt: skip
        if self.usage:
            answer["usage"] = self.summed()
        return answer


def _choice(chunk: dict[str, Any]) -> dict[str, Any] | None:
    choices = chunk.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None
