"""What one filtered answer looked like: the text the client got and the think text taken out.

Kept only under mitmweb, for its `cot-proxy` content view; under mitmdump nothing here is built,
so the filters run as they always do. Bounded: `TEXT_LIMIT` characters of text per flow
(answer and think together) and `OUTPUT_LIMIT` bytes of the streamed body the client got
(mitmproxy keeps no streamed body, and its content views show nothing without one).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from cot_proxy.inline import InlineFilter
from cot_proxy.inline import new_filter
from cot_proxy.think import DEFAULT_MAX_HELD_CHARS
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter

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

    def new_filter(self, channel: int, config: ThinkConfig, max_held_chars: int) -> ThinkFilter:
        if config.mode == "inline":
            return RecordingInlineFilter(config, self, channel, max_held_chars)
        return RecordingFilter(config, self, channel, max_held_chars)

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


def channel_filter(
    config: ThinkConfig,
    channel: int,
    transcript: Transcript | None,
    max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
) -> ThinkFilter:
    """The filter of one channel: recording into `transcript` under mitmweb, plain elsewhere."""
    if transcript is not None:
        return transcript.new_filter(channel, config, max_held_chars)
    return new_filter(config, max_held_chars)


class RecordingFilter(ThinkFilter):
    """A ThinkFilter that also tells the transcript what it decided.

    In strip mode a ThinkFilter counts think text and forgets it; this one has the filter hand
    all think text back (its strip flag off), records it, and then drops it itself, so the
    client gets exactly what a plain filter would give.
    """

    def __init__(
        self,
        config: ThinkConfig,
        transcript: Transcript,
        channel: int,
        max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
    ) -> None:
        super().__init__(config, max_held_chars)
        self._drops_think = self._strip
        self._strip = False
        self._transcript = transcript
        self._channel = channel

    def feed(self, text: str) -> tuple[str, str]:
        return self._recorded(*super().feed(text))

    def finish(self, reason: object = None) -> tuple[str, str]:
        return self._recorded(*super().finish(reason))

    def note_dropped(self, text: str) -> None:
        self._transcript.add_think(self._channel, text)

    def _recorded(self, answer: str, think: str) -> tuple[str, str]:
        self._transcript.add_answer(self._channel, answer)
        self._transcript.add_think(self._channel, think)
        return answer, "" if self._drops_think else think


class RecordingInlineFilter(InlineFilter):
    """An InlineFilter that also tells the transcript the model's text and the reasoning moved."""

    def __init__(
        self,
        config: ThinkConfig,
        transcript: Transcript,
        channel: int,
        max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
    ) -> None:
        super().__init__(config, max_held_chars)
        self._transcript = transcript
        self._channel = channel

    def feed(self, text: str) -> tuple[str, str]:
        self._transcript.add_answer(self._channel, text)
        return super().feed(text)

    def open_block(self, reasoning: str) -> str:
        self._transcript.add_think(self._channel, reasoning)
        return super().open_block(reasoning)

    def note_dropped(self, text: str) -> None:
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
