"""One chat-completions answer under a budget, made of the upstream's stream and, when the
budget forced the end of the thought, the continuation's stream.

Pure logic, no mitmproxy import: the relay (`cot_proxy.budget.relay`) feeds it the upstream's
bytes as they come and writes what it returns to the client. `first` takes the first answer:
it passes the events on (the reasoning counted, `cost` per delta) until the budget is spent,
then cuts the reasoning there and sets `forced`; the relay closes that upstream and sends
`continuation(...)`, whose answer `second` takes: its id, model and created replaced by the
first's, its usage summed. What it files as reasoning is held until it is known what it is: a
thought before the answer (kept up to `SLACK` tokens, fail closed) or, when the continuation
stops with nothing else, the answer a reasoning parser misfiled (`_settled`). `finish` ends
the answer: the usage and `[DONE]`, or for a client that asked for a buffered answer, that
answer as one JSON body.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy.budget.count import InlineTags
from cot_proxy.budget.events import data_of
from cot_proxy.budget.events import event_object
from cot_proxy.budget.session import Session

REASONING_FIELDS = ("reasoning_content", "reasoning")
_HEAD = ("id", "created", "model", "system_fingerprint")


def sse(obj: Any) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


class ChatSession(Session):
    def __init__(
        self, budget: int, *, streamed: bool, tags: tuple[str, str] | None, implicit: bool = False
    ) -> None:
        super().__init__(budget, streamed=streamed)
        self.tags = tags
        self.inline = InlineTags(*tags, inside=implicit) if tags else None
        self.again = InlineTags(*tags) if tags else None  # the continuation's own tags
        self.reasoning: list[str] = []  # what the client got of it
        self.field: str | None = None
        self.head: dict[str, Any] = {}
        self.usage: list[dict[str, Any]] = []
        self.upstream_counted = False  # the upstream reported reasoning tokens itself
        self.done = False  # the first answer ended on its own ([DONE])
        self._held = ""  # the continuation's reasoning-field text, until it is known what it is
        self._answering = False  # the continuation's answer began
        self._stopped_well = False
        self._chunks: list[dict[str, Any]] = []  # what a buffered answer is made of

    # ---- the first answer ---------------------------------------------------------------------

    def first(self, data: bytes) -> bytes:
        out = b""
        for event in self._split.feed(data):
            if self.forced:
                break
            payload = data_of(event)
            if payload is None or payload.strip() == "[DONE]":
                self.done = self.done or payload is not None
                out += event if self.streamed else b""
                continue
            try:
                chunk = json.loads(payload)
            except ValueError:
                out += event if self.streamed else b""
                continue
            if not isinstance(chunk, dict):
                continue
            if not self.head:
                self.head = {k: chunk[k] for k in _HEAD if k in chunk}
            changed = self._first_chunk(chunk)
            out += self._emit(chunk, None if changed else event)
        return out

    def _first_chunk(self, chunk: dict[str, Any]) -> bool:
        """Count the chunk's reasoning; cut it at the budget. Whether the chunk changed."""
        changed = self._usage(chunk)
        delta, choice = _delta(chunk)
        if delta is None or choice is None:
            return changed
        for name in REASONING_FIELDS:
            text = delta.get(name)
            if isinstance(text, str) and text:
                self.field = name
                kept = self._take(text)
                if kept != text:
                    delta[name] = kept
                    changed = True
        content = delta.get("content")
        if isinstance(content, str) and content:
            kept = self._content(content)
            if kept != content:
                delta["content"] = kept
                changed = True
        if self.forced:
            choice["finish_reason"] = None
            changed = True
        return changed

    def _take(self, text: str) -> str:
        kept = self.meter.take(text)
        if kept != text and not self.answered:
            self.forced = True  # cut here: an answer that began keeps its later reasoning cut
        if kept:
            self.reasoning.append(kept)
        return kept

    def _content(self, content: str) -> str:
        if self.inline is None:
            self.answered = self.answered or bool(content.strip())
            return content
        kept = ""
        for kind, piece in self.inline.split(content):
            if kind == "think":
                part = self._take(piece)
                kept += part
                if self.forced:
                    assert self.tags is not None
                    return kept + self.tags[1]  # the client's filter sees the thought close
            else:
                self.answered = self.answered or (kind == "text" and bool(piece.strip()))
                kept += piece
        return kept

    # ---- the continuation ---------------------------------------------------------------------

    def second(self, data: bytes) -> bytes:
        out = b""
        for event in self._split.feed(data):
            chunk = event_object(event)
            if chunk is not None and self._second_chunk(chunk):
                out += self._emit(chunk, None)
        return out

    def _second_chunk(self, chunk: dict[str, Any]) -> bool:
        """Make the continuation's chunk one of the first answer's; False: nothing to send."""
        chunk.update(self.head)
        if self._usage(chunk, count=False):
            return False  # summed into the last chunk
        delta, choice = _delta(chunk)
        if delta is None or choice is None:
            return False
        delta.pop("role", None)
        for name in REASONING_FIELDS:
            if isinstance(text := delta.pop(name, None), str):
                self._held += text  # thought, or an answer the server filed as one: see below
        content = delta.get("content")
        if isinstance(content, str) and content and self.again is not None:
            pieces = self.again.split(content)
            content = "".join(self.slack.take(p) if k == "think" else p for k, p in pieces)
            delta["content"] = content
        self._answering = self._answering or (isinstance(content, str) and bool(content.strip()))
        finish = choice.get("finish_reason")
        if self._held and self._answering:  # it thought again before answering: the slack
            if kept := self.slack.take(self._held):
                delta[self.field or "reasoning_content"] = kept
            self._held = ""
        elif self._held and finish is not None:
            self._stopped_well = finish == "stop"
            delta["content"] = self._settled() + (content or "")
        return bool(delta) or finish is not None

    def _settled(self) -> str:
        """The continuation ended with no answer but what it filed as reasoning: on a `stop`
        that was the answer (the turn had closed the thought; servers whose reasoning parser
        misfiles it, vLLM #28089, SGLang PR #17065); else (cut by length) a thought, dropped."""
        held, self._held = self._held, ""
        return held if self._stopped_well else ""

    # ---- the end ------------------------------------------------------------------------------

    def finish(self) -> bytes:
        """The rest of the answer: the usage and [DONE] of a forced stream, or the buffered
        answer."""
        out = b""
        if self._held:  # the continuation ended without a finish reason: a thought, dropped
            self._settled()
        if not self.streamed:
            return json.dumps(self.buffered(), ensure_ascii=False).encode()
        if not self.forced:
            return b""  # the first answer's own end went through
        if self.usage:
            out += sse({**self.head, "object": "chat.completion.chunk", "choices": [],
                        "usage": self.summed()})  # fmt: skip
        return out + sse("[DONE]")

    def summed(self) -> dict[str, Any]:
        """The usage of the answer: a forced answer's continuation plus the reasoning counted
        before it; the reasoning tokens from the proxy's count where the upstream gave none."""
        last = dict(self.usage[-1]) if self.usage else {}
        if self.forced:
            last["completion_tokens"] = int(last.get("completion_tokens") or 0) + self.meter.used
            last["total_tokens"] = int(last.get("prompt_tokens") or 0) + last["completion_tokens"]
        if not self.upstream_counted:
            details = dict(last.get("completion_tokens_details") or {})
            details["reasoning_tokens"] = self.counted
            last["completion_tokens_details"] = details
        return last

    def _usage(self, chunk: dict[str, Any], count: bool = True) -> bool:
        usage = chunk.get("usage")
        if not isinstance(usage, dict):
            return False
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict) and details.get("reasoning_tokens"):
            self.upstream_counted = True
        self.usage.append(usage)
        if count and not self.forced:
            chunk["usage"] = self.summed()
        return True

    def _emit(self, chunk: dict[str, Any], raw: bytes | None) -> bytes:
        if not self.streamed:
            self._chunks.append(chunk)
            return b""
        return raw if raw is not None else sse(chunk)

    def buffered(self) -> dict[str, Any]:
        """The answer as a chat.completion, from the chunks the client would have got."""
        content, reasoning, finish = "", "", None
        calls: dict[int, dict[str, Any]] = {}
        for chunk in self._chunks:
            delta, choice = _delta(chunk)
            if delta is None or choice is None:
                continue
            content += delta.get("content") or ""
            for name in REASONING_FIELDS:
                reasoning += delta.get(name) or ""
            finish = choice.get("finish_reason") or finish
            for call in delta.get("tool_calls") or []:
                _merge_call(calls, call)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning:
            message[self.field or "reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        answer = {**self.head, "object": "chat.completion"}
        answer["choices"] = [{"index": 0, "message": message, "finish_reason": finish,
                              "logprobs": None}]  # fmt: skip
        if self.usage:
            answer["usage"] = self.summed()
        return answer


def _delta(chunk: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None, None
    delta = choices[0].get("delta")
    return (delta, choices[0]) if isinstance(delta, dict) else (None, None)


def _merge_call(calls: dict[int, dict[str, Any]], call: Any) -> None:
    if not isinstance(call, dict):
        return
    index = call.get("index", 0)
    known = calls.setdefault(index, {"id": None, "type": "function",
                                     "function": {"name": "", "arguments": ""}})  # fmt: skip
    known["id"] = call.get("id") or known["id"]
    function = call.get("function") or {}
    known["function"]["name"] += function.get("name") or ""
    known["function"]["arguments"] += function.get("arguments") or ""
