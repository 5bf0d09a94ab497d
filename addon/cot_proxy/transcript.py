"""What one filtered answer looked like: the text the client got and the think text taken out.

Kept only under mitmweb, for its `cot-proxy` content view; under mitmdump nothing here is built,
so the filters run as they always do. The filters tell it their text through an observer each
(`ChannelRecord`, given them by `cot_proxy.filters.Filters`). Bounded: `TEXT_LIMIT` characters of text per flow
(answer and think together) and `OUTPUT_LIMIT` bytes of the streamed body the client got
(mitmproxy keeps no streamed body, and its content views show nothing without one).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

TEXT_LIMIT = 1 << 20  # characters of answer and think text per flow
OUTPUT_LIMIT = 1 << 20  # bytes of streamed body per flow


class Transcript:
    """Per channel (an OpenAI choice): the answer text the client got, the think text removed
    (strip mode) or moved to the reasoning field (reasoning mode); in inline mode the text the
    model wrote and the reasoning moved into it."""

    def __init__(self, mode: str, reasoning_field: str, limit: int = TEXT_LIMIT) -> None:
        self.mode = mode
        self.reasoning_field = reasoning_field
        self.answer: dict[int, list[str]] = {}
        self.think: dict[int, list[str]] = {}
        self.room = limit
        self.truncated = False

    def _keep(self, into: dict[int, list[str]], channel: int, text: str) -> None:
        if not text:
            return
        if len(text) > self.room:
            text = text[: self.room]
            self.truncated = True
        if text:
            self.room -= len(text)
            into.setdefault(channel, []).append(text)

    def add_answer(self, channel: int, text: str) -> None:
        self._keep(self.answer, channel, text)

    def add_think(self, channel: int, text: str) -> None:
        self._keep(self.think, channel, text)

    def add_dropped(self, channel: int, container: dict[str, Any], keys: Iterable[str]) -> None:
        """Reasoning the server split off itself, about to be deleted (strip mode)."""
        for key in keys:
            value = container.get(key)
            if isinstance(value, str):
                self.add_think(channel, value)

    def observer(self, channel: int) -> ChannelRecord:
        """What a channel's filter tells what it decided (`cot_proxy.filters.Filters`)."""
        return ChannelRecord(self, channel)

    def summary(self) -> dict[str, Any]:
        """Plain values, for saved flows and the content view."""
        channels = sorted(self.answer.keys() | self.think.keys())
        return {
            "mode": self.mode,
            "reasoning_field": self.reasoning_field,
            "channels": [
                {
                    "channel": c,
                    "answer": "".join(self.answer.get(c, ())),
                    "think": "".join(self.think.get(c, ())),
                }
                for c in channels
            ],
            "truncated": self.truncated,
        }


class ChannelRecord:
    """The observer of one channel's filter (`cot_proxy.think.FilterObserver`): what it decided
    goes into the transcript, under the channel's number."""

    __slots__ = ("_transcript", "_channel")

    def __init__(self, transcript: Transcript, channel: int) -> None:
        self._transcript = transcript
        self._channel = channel

    def on_answer(self, text: str) -> None:
        self._transcript.add_answer(self._channel, text)

    def on_think(self, text: str) -> None:
        self._transcript.add_think(self._channel, text)

    def on_dropped(self, text: str) -> None:
        self._transcript.add_think(self._channel, text)


class Tee:
    """Wraps a stream callable: what it sends to the client also goes into a bounded copy."""

    def __init__(self, stream: Callable[[bytes], list[bytes]], limit: int = OUTPUT_LIMIT) -> None:
        self.stream = stream
        self.copy = bytearray()
        self.limit = limit
        self.truncated = False

    def __call__(self, data: bytes) -> list[bytes]:
        out = self.stream(data)
        for chunk in out:
            room = self.limit - len(self.copy)
            if len(chunk) > room:
                self.truncated = True
            self.copy += chunk[: max(room, 0)]
        return out


def render(summary: dict[str, Any]) -> str:
    """The content view's text for a transcript summary."""
    answer_title = "what the client got"
    if summary.get("mode") == "reasoning":
        think_title = f"think text moved to {summary.get('reasoning_field')}"
    elif summary.get("mode") == "inline":
        answer_title = "the text the model wrote"
        think_title = "reasoning moved into the text, between think tags"
    else:
        think_title = "think text removed"
    channels = summary.get("channels") or []
    lines: list[str] = []
    for entry in channels:
        prefix = f"[choice {entry.get('channel')}] " if len(channels) > 1 else ""
        for title, key in ((answer_title, "answer"), (think_title, "think")):
            text = entry.get(key) or ""
            lines.append(f"── {prefix}{title} ({len(text)} chars) ──")
            lines.append(text if text else "(none)")
            lines.append("")
    if not channels:
        lines.append("(no answer text)")
    if summary.get("truncated"):
        lines.append(f"(only the first {TEXT_LIMIT} characters of text were kept)")
    return "\n".join(lines).rstrip("\n") + "\n"
