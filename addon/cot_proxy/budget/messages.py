"""One Anthropic Messages answer under a budget (`/v1/messages`, SSE with `event:` lines), made of
the upstream's stream and the continuation's: the counterpart of `cot_proxy.budget.chat`.

Pure logic, no mitmproxy import. Shapes: message_start, then content blocks (content_block_start
/ _delta / _stop, each with its `index`; thinking_delta, signature_delta, text_delta,
input_json_delta), message_delta (stop_reason, usage.output_tokens), message_stop (Anthropic's
streaming docs; ollama anthropic/anthropic.go StreamConverter; tests/e2e/messages_upstream.py).
At the cut the thinking block is closed (content_block_stop); the continuation's blocks follow
under the next indices, its message_start is dropped, a thinking block of it is held until it
is known whether it is a thought (kept up to the slack) or a misfiled answer, and its
output_tokens get the counted reasoning added.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy.budget.events import event_object
from cot_proxy.budget.session import Session


def frame(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event.get('type')}\ndata: {data}\n\n".encode()


class MessagesSession(Session):
    def __init__(self, budget: int, *, streamed: bool) -> None:
        super().__init__(budget, streamed=streamed)
        self.message: dict[str, Any] = {}  # message_start's message
        self.blocks: dict[int, dict[str, Any]] = {}  # index → the block as built so far
        self.offset = 0  # added to the continuation's indices
        self.end: dict[str, Any] = {}  # message_delta's delta and usage
        self.stopped = False  # message_stop went out
        self._held_at: int | None = None  # the continuation's thinking block, held
        self._held = ""

    def first(self, data: bytes) -> bytes:
        out = b""
        for raw in self._split.feed(data):
            if self.forced:
                break
            event = event_object(raw)
            if event is None:
                out += raw if self.streamed else b""
                continue
            if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
                self.message = event["message"]
            cut = self._first_event(event)
            if not (cut and event["delta"]["thinking"] == ""):  # nothing of it fits: not sent
                out += self._emit(event, None if cut else raw)
            if self.forced:
                index = event.get("index", 0)
                out += self._emit({"type": "content_block_stop", "index": index}, None)
                self.offset = max(self.blocks, default=-1) + 1
        return out

    def _first_event(self, event: dict[str, Any]) -> bool:
        """Count a thinking delta; cut it at the budget. Whether the event changed."""
        delta = event.get("delta")
        if event.get("type") != "content_block_delta" or not isinstance(delta, dict):
            return False
        if delta.get("type") == "text_delta" and str(delta.get("text") or "").strip():
            self.answered = True
        text = delta.get("thinking")
        if delta.get("type") != "thinking_delta" or not isinstance(text, str) or not text:
            return False
        kept = self.meter.take(text)
        if kept:
            self.reasoning.append(kept)
        if kept == text:
            return False
        delta["thinking"] = kept
        self.forced = not self.answered
        return True

    def second(self, data: bytes) -> bytes:
        out = b""
        for raw in self._split.feed(data):
            event = event_object(raw)
            kind = event.get("type") if event is not None else None
            if event is None or kind in ("message_start", "ping"):
                continue
            if "index" in event and isinstance(event["index"], int):
                event["index"] += self.offset
            block, delta = event.get("content_block"), event.get("delta")
            if isinstance(block, dict) and block.get("type") == "thinking":
                self._held_at = event.get("index")  # held until it is known what it is
                continue
            if self._held_at is not None and event.get("index") == self._held_at:
                if isinstance(delta, dict) and isinstance(delta.get("thinking"), str):
                    self._held += delta["thinking"]
                continue  # its signature and stop too
            if kind == "content_block_start":
                out += self._release(answer=False)  # a thought before the answer: the slack
            if kind == "message_delta":
                stop = (delta or {}).get("stop_reason") if isinstance(delta, dict) else None
                out += self._release(answer=stop in ("end_turn", "stop_sequence"))
                if isinstance(event.get("usage"), dict):
                    usage = event["usage"]
                    usage["output_tokens"] = int(usage.get("output_tokens") or 0) + self.meter.used
            out += self._emit(event, None)
        return out

    def _release(self, answer: bool) -> bytes:
        """The held thinking block: as a thinking block of at most the slack, or, when the
        continuation stopped with nothing else, as the answer a reasoning parser misfiled
        (cot_proxy.budget.chat, `_settled`)."""
        index, self._held_at = self._held_at, None
        held, self._held = self._held, ""
        if index is None:
            return b""
        if answer:
            block, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": held}
        else:
            held = self.slack.take(held)
            block = {"type": "thinking", "thinking": ""}
            delta = {"type": "thinking_delta", "thinking": held}
        if not held:
            return b""
        return b"".join(
            self._emit(event, None)
            for event in (
                {"type": "content_block_start", "index": index, "content_block": block},
                {"type": "content_block_delta", "index": index, "delta": delta},
                {"type": "content_block_stop", "index": index},
            )
        )

    def finish(self) -> bytes:
        if not self.streamed:
            return json.dumps(self.buffered(), ensure_ascii=False).encode()
        if self.forced and not self.stopped:  # the continuation failed: end the message
            end = {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}}
            return frame(end) + frame({"type": "message_stop"})
        return b""

    def _emit(self, event: dict[str, Any], raw: bytes | None) -> bytes:
        self._build(event)
        if not self.streamed:
            return b""
        return raw if raw is not None else frame(event)

    def _build(self, event: dict[str, Any]) -> None:
        kind, index = event.get("type"), event.get("index")
        if kind == "content_block_start" and isinstance(index, int):
            self.blocks[index] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta" and isinstance(index, int):
            block, delta = self.blocks.setdefault(index, {}), event.get("delta") or {}
            for key in ("thinking", "text", "signature", "partial_json"):
                if isinstance(delta.get(key), str):
                    block[key] = block.get(key, "") + delta[key]
        elif kind == "message_delta":
            self.end = {**(event.get("delta") or {}), "usage": event.get("usage") or {}}
        elif kind == "message_stop":
            self.stopped = True

    def buffered(self) -> dict[str, Any]:
        """The answer as one message, from the events the client would have got."""
        content = []
        for index in sorted(self.blocks):
            block = dict(self.blocks[index])
            if "partial_json" in block:
                try:
                    block["input"] = json.loads(block.pop("partial_json") or "{}")
                except ValueError:
                    block["input"] = {}
            content.append(block)
        usage = {**(self.message.get("usage") or {}), **self.end.get("usage", {})}
        return {**self.message, "type": "message", "role": "assistant", "content": content,
                "stop_reason": self.end.get("stop_reason"),
                "stop_sequence": self.end.get("stop_sequence"), "usage": usage}  # fmt: skip
