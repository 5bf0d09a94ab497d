"""Ollama's native API (`POST /api/chat`, `POST /api/generate`) as an event format.

Shapes from ollama/ollama `api/types.go` (ChatResponse, GenerateResponse, Message, Metrics) and
`server/routes.go` (`streamResponse`, `writeChatResponse`, GenerateHandler):

- A stream is NDJSON (`application/x-ndjson`), one `json.Marshal`ed object per line; Ollama
  streams unless the request says `"stream": false`, which gets one `application/json` object.
- /api/chat keeps the text in `message.content` and what Ollama's own parser split off (with
  `think: true`) in `message.thinking`, tool calls in `message.tool_calls`; /api/generate keeps
  them at the top level: `response`, `thinking`, `tool_calls`.
- The last line has `"done": true`, `done_reason` ("stop", "length", ...) and the counters.
- An error after the stream started is a line `{"error": "..."}`, and the stream ends there.

So a stream is one channel: one filter, its held text released into the `done: true` line.
Ollama has one reasoning field, `thinking`: reasoning mode writes there whatever the configured
`reasoning_field`. Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from cot_proxy import channel
from cot_proxy.filters import ChannelFilter
from cot_proxy.formats import ollama_request
from cot_proxy.formats._api import SAME
from cot_proxy.formats._api import Framing
from cot_proxy.formats._api import NewFilter
from cot_proxy.jsonbytes import BACKSLASH
from cot_proxy.jsonbytes import decode_json
from cot_proxy.jsonbytes import needles_for
from cot_proxy.jsonbytes import split_escaped
from cot_proxy.think import ThinkConfig

if TYPE_CHECKING:
    from cot_proxy.history import History
    from cot_proxy.rules import ModelRule

THINKING = "thinking"
TOOL_CALLS = "tool_calls"
# Top-level fields that say nothing about the answer; the rest (counters, logprobs, context,
# tool calls, unknown fields) is worth sending even when the text came out empty.
_ENVELOPE = frozenset({"model", "remote_model", "remote_host", "created_at", "done"})
_MESSAGE_ENVELOPE = frozenset({"role"})
_EMPTY: tuple[Any, ...] = (None, "", [], {})


@dataclasses.dataclass(frozen=True)
class OllamaFormat:
    """One endpoint of Ollama's native API: where its lines keep the text."""

    name: str
    # The key of the dict that holds the text ("message" for /api/chat); None: the line itself.
    message_key: str | None
    text_key: str
    framing: Framing = "ndjson"
    upstream_reasoning_fields: tuple[str, ...] = (THINKING,)
    done_payload: bytes | None = None  # the done line is JSON: the rewriter finds it

    def container(self, obj: Any) -> dict[str, Any] | None:
        """The dict holding a line's text, thinking and tool calls; None: not an answer line
        (an error, or another shape), to pass as it came."""
        if type(obj) is not dict or "error" in obj:
            return None
        if self.message_key is None:  # a line with any of the three: strip mode must see it
            return obj if self.text_key in obj or "done" in obj or THINKING in obj else None
        message = obj.get(self.message_key)
        return message if type(message) is dict else None

    def line(self, last: dict[str, Any], text: str = "", thinking: str = "") -> dict[str, Any]:
        """A new line shaped like `last` (its model and timestamp), not done, carrying `text`."""
        line: dict[str, Any] = {
            key: last[key] for key in ("model", "remote_model", "remote_host") if key in last
        }
        line["created_at"] = last.get("created_at", "")
        body: dict[str, Any] = {}
        if self.message_key is not None:
            message = last.get(self.message_key)
            role = message.get("role") if type(message) is dict else None
            body["role"] = role if type(role) is str else "assistant"
        body[self.text_key] = text
        if thinking:
            body[THINKING] = thinking
        if self.message_key is None:
            line.update(body)
        else:
            line[self.message_key] = body
        line["done"] = False
        return line

    def carries_nothing(self, obj: dict[str, Any], container: dict[str, Any]) -> bool:
        """True when a line not done is left with empty text and nothing else worth sending."""
        if obj.get("done") or container.get(self.text_key, "") != "":
            return False
        ignored = _ENVELOPE if container is obj else _MESSAGE_ENVELOPE
        for key, value in container.items():
            if key not in ignored and key != self.text_key and value not in _EMPTY:
                return False
        if container is not obj:
            for key, value in obj.items():
                if key not in _ENVELOPE and key != self.message_key and value not in _EMPTY:
                    return False
        return True

    def rewriter(self, config: ThinkConfig, new_filter: NewFilter) -> OllamaRewriter:
        return OllamaRewriter(self, config, new_filter(0))

    def failure(self, message: str) -> dict[str, Any]:
        """Ollama's error line after the stream started (`{"error": …}`), which its clients
        raise on."""
        return {"error": message}

    def filter_body(self, obj: Any, config: ThinkConfig, new_filter: NewFilter) -> bool:
        """A `"stream": false` answer: the whole text at once, finished by its done_reason."""
        container = self.container(obj)
        if container is None:
            return False
        reason = obj.get("done_reason")
        finish = reason if type(reason) is str else ""
        changed, _ = rewrite_container(channel_step(self, config), new_filter(0), container, finish)
        return changed

    # The request side (`formats.ollama_request`).

    def append_suffix(self, body: dict[str, Any], suffix: str) -> str | None:
        if self.message_key is None:
            return ollama_request.append_to_prompt(body, suffix)
        return ollama_request.append_to_chat(body, suffix)

    def rewrite_history(self, body: dict[str, Any], history: History) -> list[str]:
        chat = self.message_key is not None
        return ollama_request.rewrite_history(body, history, chat=chat)

    def error_body(self, message: str, type: str, code: str) -> bytes:
        return ollama_request.error_body(message, type, code)

    def rule_for(
        self, model: str, rule: ModelRule | None, match: Callable[[str], ModelRule | None]
    ) -> ModelRule | None:
        return ollama_request.rule_for(model, rule, match)


chat = OllamaFormat(name="ollama_chat", message_key="message", text_key="content")
generate = OllamaFormat(name="ollama_generate", message_key=None, text_key="response")


def rewrite_container(
    step: channel.ChannelStep,
    think_filter: ChannelFilter,
    container: dict[str, Any],
    finish: str | None,
) -> tuple[bool, bool]:
    """Filter one line's text in place with the channel step chat uses (`thinking` its
    reasoning field): (changed, answered: answer text or a tool call in it). `finish` not
    None: the answer ends here, so what the filter holds goes into this line."""
    text = container.get(step.text_key)
    dropped = container.get(THINKING) if step.drop_keys else None
    if type(dropped) is str:
        think_filter.note_dropped(dropped)  # before the text's own think text, as it came
    changed = step.apply(think_filter, container, finish) is not channel.Change.NONE
    # The answer the client gets; inline mode adds tags around reasoning to the model's text.
    said = text if step.inline else container.get(step.text_key)
    return changed, bool((type(said) is str and said) or container.get(TOOL_CALLS))


def channel_step(fmt: OllamaFormat, config: ThinkConfig) -> channel.ChannelStep:
    """Ollama's reasoning field is `thinking`, whatever `reasoning_field` says: its clients
    read no other."""
    return channel.ChannelStep(dataclasses.replace(config, reasoning_field=THINKING), fmt)


class OllamaRewriter:
    """One streamed Ollama answer: one filter over its lines' text."""

    def __init__(self, fmt: OllamaFormat, config: ThinkConfig, think_filter: ChannelFilter) -> None:
        self.answered = False
        self.finished = False
        self._fmt = fmt
        self._step = channel_step(fmt, config)
        self._filter = think_filter
        self._last: dict[str, Any] | None = None  # the last answer line parsed: the shape to copy
        self._passed: bytes | None = None  # the last line with text let through unparsed
        # Lines that pass unparsed: none of these in them. `true`: the done line (finished).
        # Tag characters in any JSON spelling: Go writes "<" as \u003c. Strip deletes
        # `thinking`, inline moves it.
        keys = (b"true",) if config.mode == "reasoning" else (b"true", b'"thinking"')
        self._needles, self._escaped = split_escaped(needles_for(config, keys))
        self._inline = config.mode == "inline"
        self._empty_text = b'"%s":""' % fmt.text_key.encode()

    def passes(self, raw: bytes) -> bool:
        # Until the first answer, every line is read (for `answered`); then while the filter
        # holds or drops nothing, a line with no tag character, thinking or done passes as is.
        if not self.answered or not self._filter.idle:
            return False
        for needle in self._needles:
            if needle in raw:
                return False
        if BACKSLASH in raw:  # Go writes "<" as \u003c
            for needle in self._escaped:
                if needle in raw:
                    return False
        if self._empty_text not in raw:
            self._passed = raw
        return True

    passes_tail = passes

    def event(self, obj: Any, source: Any = None) -> list[Any] | None:
        container = self._fmt.container(obj)
        if container is None:
            if type(obj) is not dict or not ("error" in obj or obj.get("done") is True):
                return None
            # The stream ends here: what the filter holds goes out just before this line.
            self.finished = self.finished or obj.get("done") is True
            released = self._release()
            return None if released is None else [released, SAME]
        self._catch_up()
        self._last = obj
        done = obj.get("done") is True
        finish = None
        if done:
            reason = obj.get("done_reason")
            finish = reason if type(reason) is str else ""
        changed, answered = rewrite_container(self._step, self._filter, container, finish)
        self.answered = self.answered or answered
        self.finished = self.finished or done
        if not changed:
            return None
        if self._fmt.carries_nothing(obj, container):
            return []  # a think-only line: the conductor sends a heartbeat instead when due
        return [obj]

    def end(self) -> list[Any]:
        released = self._release()
        return [] if released is None else [released]

    def heartbeat(self) -> Any | None:
        return None if self._last is None else self._fmt.line(self._last)

    def _release(self) -> dict[str, Any] | None:
        """The filter's held text, finished, as a line of its own; None when it held none."""
        if self._inline:
            answer, think = self._filter.finish()[0], ""
        else:
            answer, think = self._filter.finish()  # strip: the filter drops the think text
            self.answered = self.answered or bool(answer)
        if not answer and not think:
            return None
        return self._fmt.line(self._last or {}, answer, think)

    def _catch_up(self) -> None:
        """Tell the filter how the answer that passed unparsed ends, so that whitespace after a
        block is kept mid-sentence (`cot_proxy.filters.ChannelFilter.note_answer`)."""
        passed, self._passed = self._passed, None
        if passed is None or not self._filter.idle:
            return
        try:
            old = decode_json(passed.strip())
        except (ValueError, RecursionError):
            return
        container = self._fmt.container(old)
        text = container.get(self._fmt.text_key) if container is not None else None
        if type(text) is str and text:
            self._filter.note_answer(text)
