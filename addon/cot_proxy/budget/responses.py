"""One OpenAI Responses answer under a budget (`/v1/responses`, SSE with `event:` lines), made of
the upstream's stream and the continuation's: the counterpart of `cot_proxy.budget.chat`.

Pure logic, no mitmproxy import. Shapes (OpenAI's Responses streaming events; vLLM
entrypoints/openai/serving_responses.py; ollama openai/responses.go): `response.created` and
`response.in_progress` with the response, `response.output_item.added` / `.done` with
`output_index` and the item, reasoning as `response.reasoning_text.delta` (vLLM) or
`response.reasoning_summary_text.delta` (Ollama), the answer as `response.output_text.delta`,
and one terminal event (`response.completed`, `.incomplete`, `.failed`) whose response holds
`output` and `usage` {input_tokens, output_tokens, total_tokens, output_tokens_details}; every
event has a `sequence_number`.

At the cut the reasoning item is closed (its `.done` events); the continuation's own created /
in_progress are dropped, its items follow under the next output indices, its reasoning is held
until it is known whether it is a thought (dropped: the budget is spent) or, when it stops with
nothing else, the answer a reasoning parser misfiled (sent as a message). The terminal event
keeps the first response's id and created_at, lists every item the client got, sums the usage,
and takes status and incomplete_details from the continuation. Sequence numbers are renumbered
from 0 across both streams.
"""

from __future__ import annotations

import json
from typing import Any

from cot_proxy.budget.count import InlineTags
from cot_proxy.budget.events import event_object
from cot_proxy.budget.session import Session

REASONING_DELTAS = ("response.reasoning_text.delta", "response.reasoning_summary_text.delta")
TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_KEEP = ("id", "created_at", "model")


def frame(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event.get('type')}\ndata: {data}\n\n".encode()


class ResponsesSession(Session):
    def __init__(
        self,
        budget: int,
        *,
        streamed: bool,
        tags: tuple[str, str] | None = None,
        implicit: bool = False,
    ) -> None:
        super().__init__(budget, streamed=streamed)
        # a server without a reasoning parser streams the thought inline in output_text
        self.inline = InlineTags(*tags, inside=implicit) if tags else None
        self.end_tag = tags[1] if tags else ""
        self.head: dict[str, Any] = {}  # the first response's id, created_at, model
        self.items: dict[int, dict[str, Any]] = {}  # output_index → the item as built so far
        self.offset = 0  # added to the continuation's output indices
        self.seq = 0  # the next sequence_number the client gets
        self.final: dict[str, Any] | None = None  # the terminal event's response
        self._texts: dict[int, str] = {}  # output_index → its reasoning text so far
        self._held = ""  # the continuation's reasoning
        self._held_at: set[int] = set()  # the continuation's reasoning items (output indices)
        self._message = False  # the continuation sent a message item

    @property
    def counted(self) -> int:
        return self.meter.used

    # ---- the first answer ---------------------------------------------------------------------

    def first(self, data: bytes) -> bytes:
        out = b""
        for raw in self._split.feed(data):
            if self.forced:
                break
            event = event_object(raw)
            if event is None:
                out += raw if self.streamed else b""
                continue
            kind = event.get("type")
            if kind == "response.created" and isinstance(event.get("response"), dict):
                self.head = {k: event["response"][k] for k in _KEEP if k in event["response"]}
            changed = kind in REASONING_DELTAS and self._cut(event)
            if kind == "response.output_text.delta" and self.inline is not None:
                changed = self._inline(event)
            if kind in TERMINAL:
                changed = self._terminal(event) or changed
            if not (changed and event.get("delta") == ""):
                out += self._emit(event, None if changed else raw)
            if self.forced:
                out += self._close(event)
                self.offset = max(self.items, default=-1) + 1
        return out

    def _cut(self, event: dict[str, Any]) -> bool:
        text = event.get("delta")
        if not isinstance(text, str) or not text:
            return False
        kept = self.meter.take(text)
        if kept:
            self.reasoning.append(kept)
        if kept == text:
            return False
        event["delta"] = kept
        self.forced = not self.answered
        return True

    def _inline(self, event: dict[str, Any]) -> bool:
        """Count the thought inside the tags of an output_text delta; cut it at the budget, the
        end tag after it (the client's filter sees the thought close). Whether it changed."""
        text = event.get("delta")
        if not isinstance(text, str) or not text or self.inline is None:
            return False
        kept = ""
        for kind, piece in self.inline.split(text):
            if kind != "think":
                self.answered = self.answered or (kind == "text" and bool(piece.strip()))
                kept += piece
                continue
            part = self.meter.take(piece)
            kept += part
            if part:
                self.reasoning.append(part)
            if part != piece and not self.answered:
                self.forced = True
                kept += self.end_tag
                break
        if kept == text:
            return False
        event["delta"] = kept
        return True

    def _close(self, event: dict[str, Any]) -> bytes:
        """The `.done` events of the item the cut fell in."""
        index = event.get("output_index", 0)
        text = self._texts.get(index, "")
        if event.get("type") == "response.output_text.delta":
            return self._close_message(event, index, text)
        kind = str(event.get("type")).removesuffix(".delta") + ".done"
        done: dict[str, Any] = {k: event[k] for k in ("item_id", "output_index", "content_index", "summary_index")
                if k in event}  # fmt: skip
        item = dict(self.items.get(index) or {"id": event.get("item_id"), "type": "reasoning"})
        item["status"] = "completed"
        if kind == "response.reasoning_text.done":
            item["content"] = [{"type": "reasoning_text", "text": text}]
            item.setdefault("summary", [])
        else:
            item["summary"] = [{"type": "summary_text", "text": text}]
        events: list[dict[str, Any]] = [
            {"type": kind, **done, "text": text},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
        return b"".join(self._emit(e, None) for e in events)

    def _close_message(self, event: dict[str, Any], index: int, text: str) -> bytes:
        at: dict[str, Any] = {
            k: event[k] for k in ("item_id", "output_index", "content_index") if k in event
        }
        part = {"type": "output_text", "text": text, "annotations": []}
        item = dict(self.items.get(index) or {"id": event.get("item_id"), "type": "message"})
        item.update(status="completed", content=[part])
        events: list[dict[str, Any]] = [
            {"type": "response.output_text.done", **at, "text": text},
            {"type": "response.content_part.done", **at, "part": part},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
        return b"".join(self._emit(e, None) for e in events)

    # ---- the continuation ---------------------------------------------------------------------

    def second(self, data: bytes) -> bytes:
        out = b""
        for raw in self._split.feed(data):
            event = event_object(raw)
            kind = event.get("type") if event is not None else None
            if event is None or kind in ("response.created", "response.in_progress"):
                continue
            index = event.get("output_index")
            if isinstance(index, int):
                index = event["output_index"] = index + self.offset
            item = event.get("item")
            if kind == "response.output_item.added" and isinstance(item, dict):
                if item.get("type") == "reasoning":
                    self._held_at.add(index if isinstance(index, int) else -1)
                    continue
                self._message = self._message or item.get("type") == "message"
            if index in self._held_at:  # the held reasoning item's events
                if kind in REASONING_DELTAS and isinstance(event.get("delta"), str):
                    self._held += event["delta"]
                continue
            if kind in TERMINAL:
                out += self._settle(event)
                self._terminal(event)
            out += self._emit(event, None)
        return out

    def _settle(self, event: dict[str, Any]) -> bytes:
        """The continuation ended with only reasoning: on a completed answer that was the answer
        (the turn had closed the thought; vLLM #28089, SGLang PR #17065), else a thought, dropped."""
        held, self._held = self._held, ""
        response = event.get("response") or {}
        if self._message or not held.strip() or response.get("status") != "completed":
            return b""
        index = max(self.items, default=-1) + 1
        item_id = f"msg_{self.head.get('id', 'budget')}"
        part = {"type": "output_text", "text": held, "annotations": []}
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
                "content": [part]}  # fmt: skip
        at = {"item_id": item_id, "output_index": index, "content_index": 0}
        events = [
            {"type": "response.output_item.added", "output_index": index,
             "item": {**item, "status": "in_progress", "content": []}},
            {"type": "response.content_part.added", **at, "part": {**part, "text": ""}},
            {"type": "response.output_text.delta", **at, "delta": held},
            {"type": "response.output_text.done", **at, "text": held},
            {"type": "response.content_part.done", **at, "part": part},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]  # fmt: skip
        return b"".join(self._emit(e, None) for e in events)

    # ---- the end ------------------------------------------------------------------------------

    def _terminal(self, event: dict[str, Any]) -> bool:
        """The terminal event's response made the one answer's: ids, output, usage. Whether it
        changed."""
        response = event.get("response")
        if not isinstance(response, dict):
            return False
        response.update(self.head)
        if self.forced or self.offset:
            response["output"] = [self.items[i] for i in sorted(self.items)]
        usage = response.get("usage")
        if isinstance(usage, dict):
            response["usage"] = self.summed(usage)
        self.final = response
        return True

    def summed(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The continuation's usage plus the reasoning counted before it; the reasoning tokens
        from the proxy's count where the upstream gave none."""
        usage = dict(usage)
        details = dict(usage.get("output_tokens_details") or {})
        if self.forced:
            usage["output_tokens"] = int(usage.get("output_tokens") or 0) + self.meter.used
            usage["total_tokens"] = int(usage.get("input_tokens") or 0) + usage["output_tokens"]
            details["reasoning_tokens"] = int(details.get("reasoning_tokens") or 0)
            details["reasoning_tokens"] += self.meter.used
        elif not details.get("reasoning_tokens"):
            details["reasoning_tokens"] = self.meter.used
        usage["output_tokens_details"] = details
        return usage

    def finish(self) -> bytes:
        """A buffered answer as one response; for a stream whose continuation failed, a
        terminal event that says it is incomplete."""
        if self.final is None and self.forced:
            response = {**self.head, "object": "response", "status": "incomplete",
                        "incomplete_details": {"reason": "max_output_tokens"},
                        "output": [self.items[i] for i in sorted(self.items)]}  # fmt: skip
            self.final = response
            if self.streamed:
                return self._emit({"type": "response.incomplete", "response": response}, None)
        if self.streamed:
            return b""
        return json.dumps(self.final or {**self.head, "output": []}, ensure_ascii=False).encode()

    def _emit(self, event: dict[str, Any], raw: bytes | None) -> bytes:
        self._build(event)
        if "sequence_number" in event or raw is None:
            if event.get("sequence_number") != self.seq:
                raw = None
            event["sequence_number"] = self.seq
            self.seq += 1
        if not self.streamed:
            return b""
        return raw if raw is not None else frame(event)

    def _build(self, event: dict[str, Any]) -> None:
        kind, index = event.get("type"), event.get("output_index")
        if not isinstance(index, int):
            return
        if kind in ("response.output_item.added", "response.output_item.done"):
            if isinstance(event.get("item"), dict):
                self.items[index] = event["item"]
        elif kind in REASONING_DELTAS and isinstance(event.get("delta"), str):
            self._texts[index] = self._texts.get(index, "") + event["delta"]
        elif kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
            self._texts[index] = self._texts.get(index, "") + event["delta"]
            if self.inline is None and event["delta"].strip():
                self.answered = True
