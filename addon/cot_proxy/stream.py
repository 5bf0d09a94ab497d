"""Think-block removal for OpenAI-compatible responses: SSE streams and buffered JSON bodies.

`ThinkStream` is the per-flow mitmproxy stream callable (`flow.response.stream`); `filter_body()`
rewrites a buffered JSON body. Only answer text changes: `choices[].delta.content` (chat SSE),
`choices[].message.content` (chat JSON) or `choices[].text` (completions). Every other field, line
and event passes through unchanged and in order; events left unmodified keep their original bytes.

Pure logic: stdlib only, no mitmproxy import (see MITMPROXY.md §2 for the callable contract).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any
from typing import Literal

from cot_proxy.sse import DEFAULT_MAX_EVENT_BYTES
from cot_proxy.sse import OversizedChunk
from cot_proxy.sse import SSEEvent
from cot_proxy.sse import SSEFramer
from cot_proxy.sse import make_event
from cot_proxy.sse import single_data_line
from cot_proxy.think import DEFAULT_MAX_HELD_CHARS
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter
from cot_proxy.think import remove_think_blocks

logger = logging.getLogger(__name__)

Endpoint = Literal["chat", "completions"]

# Reasoning that servers with a reasoning parser already split off (vLLM, SGLang, llama.cpp, ...).
UPSTREAM_REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning")

DONE_PAYLOAD = b"[DONE]"

_DECODER = json.JSONDecoder()
# The C scanner behind decode(), called directly (see decode_json).
_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
# JSON's two-character escapes, by the character they stand for.
_SHORT_ESCAPES = {
    '"': b'\\"',
    "\\": b"\\\\",
    "/": b"\\/",
    "\b": b"\\b",
    "\f": b"\\f",
    "\n": b"\\n",
    "\r": b"\\r",
    "\t": b"\\t",
}
# _filter_choice results, combined with "|" over an event's choices.
_CHANGED = 1
_GAVE_TEXT = 2
_CHOICE_INDEX = re.compile(rb'"index"\s*:\s*(\d+)')


def decode_json(data: bytes) -> Any:
    """json.loads for UTF-8 bytes, minus its overhead on the common compact case."""
    text = data.decode("utf-8")
    try:
        obj, end = _SCAN_ONCE(text, 0)
    except StopIteration:  # leading whitespace or not JSON: let the full decoder decide
        return _DECODER.decode(text)
    return obj if end == len(text) else _DECODER.decode(text)


def _compact_encoder() -> Callable[[Any], str]:
    """`_ENCODER.encode` without rebuilding the C encoder on every call (it is per event here).

    No circular-reference check: the objects come from the JSON decoder.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return _ENCODER.encode

    def reject(obj: Any) -> Any:
        raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

    encode = make(None, reject, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda obj: "".join(encode(obj, 0))


_encode_compact = _compact_encoder()


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON; ASCII escapes for text UTF-8 cannot carry (lone surrogates)."""
    try:
        return _encode_compact(obj).encode("utf-8")
    except UnicodeEncodeError:
        return _ASCII_ENCODER.encode(obj).encode("ascii")


def json_spellings(char: str) -> list[bytes]:
    """Every way `char` can appear in raw JSON: UTF-8, \\uXXXX in any hex case, short escape."""
    code = ord(char)
    # A non-BMP character is escaped as a surrogate pair; its first half is enough to spot it.
    unit = code if code < 0x10000 else 0xD800 + ((code - 0x10000) >> 10)
    hex_cases = itertools.product(
        *(sorted({digit.lower(), digit.upper()}) for digit in f"{unit:04x}")
    )
    spellings = [char.encode("utf-8", "surrogatepass")]
    spellings += [b"\\u" + "".join(digits).encode("ascii") for digits in hex_cases]
    if char in _SHORT_ESCAPES:
        spellings.append(_SHORT_ESCAPES[char])
    return spellings


def _common_prefix(items: list[bytes]) -> bytes:
    first, last = min(items), max(items)  # the sorted extremes bound the common prefix
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


def _fewest_needles(needles: list[bytes]) -> tuple[bytes, ...]:
    """Fewer, shorter needles that still match wherever one of `needles` does (a cheaper scan).

    Case variants of one \\uXXXX escape shrink to their common prefix (b"\\u003" for "<");
    a needle containing another is dropped.
    """
    groups: dict[bytes, list[bytes]] = {}
    for needle in needles:
        key = needle.lower() if needle.startswith(b"\\u") else needle
        groups.setdefault(key, []).append(needle)
    shrunk = {_common_prefix(group) for group in groups.values()}
    kept = sorted(shrunk, key=len)
    return tuple(n for i, n in enumerate(kept) if not any(k in n for k in kept[:i]))


class ThinkStream:
    """Per-flow stream callable: frames SSE, filters each choice's text, re-emits events.

    mitmproxy calls it with every body chunk and once with b"" at the end; it returns a list of
    chunks, never b"" and never a list containing b"".

    Held text at the end of a choice (a cut-off tag, an open block, implicit-start text):
    `finish()` runs when the choice's `finish_reason` arrives, and the released text is merged
    into that same event (content appended, think text in the reasoning field), so it reaches the
    client before the finish. Choices that never got a finish_reason are finished when `[DONE]`
    arrives, or at end of stream (before any unterminated tail); their text goes out as a new
    event cloned from the last event seen for that choice (same envelope: id, object, created,
    model, ...; a choice with only the content/reasoning; `event:` lines kept, `id:` not).

    A modified event left with no text and nothing else (no role, tool_calls, finish_reason,
    usage, logprobs, ...) is dropped, unless nothing was emitted for `heartbeat_seconds`; then it
    goes out with its empty text as a sign of life.

    Never raises: an unexpected error, or an event bigger than `max_event_bytes`, switches the
    flow to raw pass-through (text still held by the filters is flushed first, best effort).
    """

    def __init__(
        self,
        config: ThinkConfig,
        endpoint: Endpoint,
        clock: Callable[[], float] = time.monotonic,
        heartbeat_seconds: float = 5.0,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_held_chars: int = DEFAULT_MAX_HELD_CHARS,
    ) -> None:
        self.config = config
        self.endpoint = endpoint
        self._clock = clock
        self._heartbeat_seconds = heartbeat_seconds
        self._max_held_chars = max_held_chars
        self._framer = SSEFramer(max_event_bytes)
        self._chat = endpoint == "chat"
        self._text_key = "content" if self._chat else "text"
        self._strip = config.mode == "strip"
        self._implicit = config.implicit_start
        self._reasoning_keys: tuple[str, ...] = ()
        if self._strip:
            self._reasoning_keys = tuple(
                dict.fromkeys((*UPSTREAM_REASONING_FIELDS, config.reasoning_field))
            )
        # Keys a synthesised completions choice only carries when it has that text.
        self._text_fields = frozenset((*UPSTREAM_REASONING_FIELDS, config.reasoning_field))
        self._filters: dict[int, ThinkFilter] = {}
        # Last parsed event per choice: the template for events we synthesise for it.
        self._shapes: dict[int, tuple[dict[str, Any], _Source]] = {}
        self._needles = self._fast_path_needles()
        self._idle = True  # every choice filter idle: the fast path is open
        self._last_output_at = clock()
        # keep mode changes nothing: short-circuit the whole flow.
        self._raw = config.mode == "keep"
        # counters for the addon's log line
        self.passthrough = False  # fell back to raw pass-through
        self.fallback_reason: str | None = None
        self.events_in = 0
        self.events_out = 0
        self.events_modified = 0
        self.events_dropped = 0
        self.heartbeats = 0

    @property
    def think_chars(self) -> int:
        return sum(f.think_chars for f in self._filters.values())

    @property
    def think_blocks(self) -> int:
        return sum(f.blocks for f in self._filters.values())

    def _fast_path_needles(self) -> tuple[bytes, ...]:
        first_chars = {tag[0] for pair in self.config.tags for tag in pair if tag}
        needles = [spelling for char in sorted(first_chars) for spelling in json_spellings(char)]
        # An opening quote and the key: '"reasoning' then covers "reasoning_content" too.
        needles += [b'"' + key.encode("utf-8") for key in self._reasoning_keys]
        return _fewest_needles(needles)

    # -- mitmproxy entry point -----------------------------------------------------------------

    def __call__(self, data: bytes) -> list[bytes]:
        if self._raw or self.passthrough:
            return [data] if data else []
        framer = self._framer
        if (
            self._idle
            and data.endswith(b"\n\n")
            and not framer.buffered_bytes
            and not framer.in_oversized_event
            and not self._implicit
            and self._clean(data)
        ):
            # Whole-chunk fast path, the common case mid-answer: nothing held, the chunk ends
            # on an event boundary and nothing in it can change state, so it goes out as it
            # came without being framed event by event.
            self.events_in += 1
            self.events_out += 1
            self._last_output_at = self._clock()
            return [data]
        out: list[bytes] = []
        events: list[bytes] = []
        position = 0
        try:
            held_before = self._framer.buffered_bytes
            events = self._framer.feed(data) if data else self._framer.flush()
            data_clean: bool | None = None
            for position, raw in enumerate(events):
                if type(raw) is not bytes:
                    if isinstance(raw, OversizedChunk):
                        logger.warning(
                            "SSE event larger than %d bytes; passing the rest of this "
                            "response through unchanged",
                            self._framer.max_event_bytes,
                        )
                        self._fall_back(out, events[position:], "oversized event")
                        return self._sent(out)
                    self._finish_choices(out)  # before the unterminated tail, not after it
                    out.append(raw)
                    continue
                self.events_in += 1
                if self._idle:
                    # Fast path. Every event but the first lies wholly inside `data` (the first
                    # one carries the bytes held from earlier chunks), so one scan of the chunk
                    # answers for all of them.
                    if data and (position or not held_before):
                        if data_clean is None:
                            data_clean = self._clean(data)
                        clean = data_clean or self._clean(raw)
                    else:
                        clean = self._clean(raw)
                    if clean and (not self._implicit or self._choices_known(raw)):
                        self.events_out += 1
                        out.append(raw)
                        continue
                self._handle_event(raw, out)
            if not data:
                self._finish_choices(out)
        except Exception as exc:  # the callable must never raise (MITMPROXY.md §1)
            # No body content in the log: only the exception type; traceback at debug level.
            logger.error(
                "think filter failed (%s); passing the rest of this response through unchanged",
                type(exc).__name__,
            )
            logger.debug("think filter failure", exc_info=True)
            self._fall_back(out, events[position:], f"error: {type(exc).__name__}")
        return self._sent(out)

    def _sent(self, out: list[bytes]) -> list[bytes]:
        if out:
            self._last_output_at = self._clock()
        return out

    def _fall_back(self, out: list[bytes], unsent: list[bytes], reason: str) -> None:
        """Switch to raw pass-through: flush held text if possible, then every byte still here."""
        self.passthrough = True
        self.fallback_reason = reason
        try:
            self._finish_choices(out)
        except Exception as exc:
            logger.error("could not flush held think-filter text (%s)", type(exc).__name__)
        out.extend(unsent)
        try:
            out.extend(self._framer.flush())
        except Exception as exc:  # pragma: no cover - the framer only slices bytes
            logger.error("could not flush the SSE framer (%s)", type(exc).__name__)

    # -- per event ------------------------------------------------------------------------------

    def _handle_event(self, raw: bytes, out: list[bytes]) -> None:
        try:
            self._transform_event(raw, out)
        finally:
            self._idle = self._all_idle()

    def _all_idle(self) -> bool:
        for think_filter in self._filters.values():
            if not think_filter.idle:
                return False
        return True

    def _transform_event(self, raw: bytes, out: list[bytes]) -> None:
        source: _Source
        simple = single_data_line(raw)
        if simple is not None:
            data, source = simple
        else:
            source = SSEEvent.parse(raw)
            parsed = source.data
            if parsed is None:
                self._emit(raw, out)
                return
            data = parsed
        if data == DONE_PAYLOAD:
            self._finish_choices(out)
            self._emit(raw, out)
            return
        try:
            obj = decode_json(data)
        except (ValueError, RecursionError):  # not JSON, not UTF-8: not ours to touch
            self._emit(raw, out)
            return
        choices = obj.get("choices") if isinstance(obj, dict) else None
        if not isinstance(choices, list):
            self._emit(raw, out)
            return
        changes = 0
        for position, choice in enumerate(choices):
            if type(choice) is dict:
                changes |= self._filter_choice(
                    _choice_index(choice, position), choice, obj, source, out
                )
        if not changes:
            self._emit(raw, out)
            return
        if not changes & _GAVE_TEXT and self._carries_nothing(obj, choices):
            if not self._heartbeat_due(out):
                self.events_dropped += 1
                return
            self.heartbeats += 1
        self.events_modified += 1
        self._emit(_rebuild(source, encode_json(obj)), out)

    def _clean(self, raw: bytes) -> bool:
        """True when `raw` holds no tag start character (in any JSON spelling) and, in strip
        mode, no upstream reasoning key: such an event cannot change while filters are idle."""
        for needle in self._needles:
            if needle in raw:
                return False
        return True

    def _choices_known(self, raw: bytes) -> bool:
        """implicit_start: a choice not seen yet starts with everything held, so must be parsed."""
        indices = _CHOICE_INDEX.findall(raw)
        if not indices:
            return b'"delta"' not in raw and b'"text"' not in raw
        return all(int(index) in self._filters for index in indices)

    def _filter_choice(
        self,
        index: int,
        choice: dict[str, Any],
        obj: dict[str, Any],
        source: _Source,
        out: list[bytes],
    ) -> int:
        """Filter one choice in place → 0 (unchanged) or _CHANGED, plus _GAVE_TEXT if it now
        carries answer or think text (so the event is certainly worth sending)."""
        think_filter = self._filters.get(index)
        if think_filter is None:
            think_filter = self._filters[index] = ThinkFilter(self.config, self._max_held_chars)
        self._shapes[index] = (obj, source)
        container = choice.get("delta") if self._chat else choice
        if not isinstance(container, dict):
            if choice.get("finish_reason") is not None:
                # Nowhere to merge held text into: send it in its own event just before.
                self._finish_choice(index, think_filter, out)
            return 0
        text = container.get(self._text_key)
        answer = think = ""
        if isinstance(text, str) and text:
            answer, think = think_filter.feed(text)
        if choice.get("finish_reason") is not None:
            # The choice is done: release held text into this event, before its finish.
            tail_answer, tail_think = think_filter.finish()
            answer += tail_answer
            think += tail_think
        changes = 0
        if (isinstance(text, str) or answer) and answer != text:
            container[self._text_key] = answer
            changes = _CHANGED | _GAVE_TEXT if answer else _CHANGED
        if think:
            _append_text(container, self.config.reasoning_field, think)
            changes = _CHANGED | _GAVE_TEXT
        for key in self._reasoning_keys:
            if container.get(key) is not None:
                del container[key]
                changes |= _CHANGED
        return changes

    def _carries_nothing(self, obj: dict[str, Any], choices: list[Any]) -> bool:
        """True when the event holds no text and no other non-null field worth sending."""
        if obj.get("usage") is not None or not choices:
            return False
        for choice in choices:
            if not isinstance(choice, dict):
                return False
            for key, value in choice.items():
                if key == "index" or value is None:
                    continue
                if self._chat and key == "delta":
                    if not isinstance(value, dict) or not _delta_empty(value, self._text_key):
                        return False
                elif self._chat or key != "text" or value != "":
                    return False
        return True

    def _heartbeat_due(self, out: list[bytes]) -> bool:
        if out:  # this call already sends something
            return False
        return self._clock() - self._last_output_at >= self._heartbeat_seconds

    def _emit(self, raw: bytes, out: list[bytes]) -> None:
        self.events_out += 1
        out.append(raw)

    # -- end of choices -------------------------------------------------------------------------

    def _finish_choices(self, out: list[bytes]) -> None:
        """Release what every choice still holds (at [DONE] or end of stream)."""
        for index in sorted(self._filters):
            self._finish_choice(index, self._filters[index], out)
        self._idle = self._all_idle()

    def _finish_choice(self, index: int, think_filter: ThinkFilter, out: list[bytes]) -> None:
        answer, think = think_filter.finish()
        if answer or think:
            self._emit(self._synthesise(index, answer, think), out)

    def _synthesise(self, index: int, answer: str, think: str) -> bytes:
        """An event for choice `index` carrying only `answer`/`think`, shaped like its last one."""
        obj, source = self._shapes[index]
        fields: dict[str, Any] = {}
        if answer or not self._chat:  # a completions choice always has its text
            fields[self._text_key] = answer
        if think:
            fields[self.config.reasoning_field] = think
        choice: dict[str, Any] = {}
        for key in _template_choice(obj, index):
            if key not in self._text_fields:
                choice[key] = None  # logprobs, finish_reason, ...: nothing to say
        choice["index"] = index
        if self._chat:
            choice["delta"] = fields
        else:
            choice.update(fields)
        clone: dict[str, Any] = {}
        for key, value in obj.items():
            if key == "choices":
                clone[key] = [choice]
            elif key == "usage":
                clone[key] = None  # counted once, in the upstream's own usage event
            else:
                clone[key] = value
        if "choices" not in clone:
            clone["choices"] = [choice]
        payload = encode_json(clone)
        if isinstance(source, SSEEvent):
            return source.derive(payload)
        return make_event(payload, source)


# The event a payload came from: parsed, or just the line ending of a single-data-line event.
_Source = SSEEvent | bytes


def _rebuild(source: _Source, payload: bytes) -> bytes:
    if isinstance(source, SSEEvent):
        return source.with_data(payload)
    return b"data: " + payload + source + source


def _choice_index(choice: dict[str, Any], position: int) -> int:
    index = choice.get("index")
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    return position


def _template_choice(obj: dict[str, Any], index: int) -> dict[str, Any]:
    choices = obj.get("choices")
    if isinstance(choices, list):
        for position, choice in enumerate(choices):
            if isinstance(choice, dict) and _choice_index(choice, position) == index:
                return choice
    return {}


def _delta_empty(delta: dict[str, Any], text_key: str) -> bool:
    for key, value in delta.items():
        if value is None or (key == text_key and value == ""):
            continue
        return False
    return True


def _append_text(container: dict[str, Any], key: str, text: str) -> None:
    existing = container.get(key)
    container[key] = existing + text if isinstance(existing, str) else text


def filter_body(body: bytes, config: ThinkConfig, endpoint: Endpoint) -> bytes | None:
    """Rewrite a buffered (non-streamed) JSON response; None when unchanged or not applicable.

    Same rules as the stream: only message.content (chat) / text (completions) changes; strip
    mode also deletes upstream reasoning fields; reasoning mode appends the think text to
    `message[config.reasoning_field]` (after any value already there). Key order is kept;
    the result is compact UTF-8 JSON.
    """
    if config.mode == "keep":
        return None
    try:
        return _filter_body(body, config, endpoint)
    except Exception as exc:  # the addon must never break a response over this
        logger.error("think filter failed on a JSON body (%s); left unchanged", type(exc).__name__)
        logger.debug("think filter failure", exc_info=True)
        return None


def _filter_body(body: bytes, config: ThinkConfig, endpoint: Endpoint) -> bytes | None:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    choices = obj.get("choices") if isinstance(obj, dict) else None
    if not isinstance(choices, list):
        return None
    text_key = "content" if endpoint == "chat" else "text"
    reasoning_keys: tuple[str, ...] = ()
    if config.mode == "strip":
        reasoning_keys = tuple(dict.fromkeys((*UPSTREAM_REASONING_FIELDS, config.reasoning_field)))
    changed = False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        container = choice.get("message") if endpoint == "chat" else choice
        if not isinstance(container, dict):
            continue
        text = container.get(text_key)
        if isinstance(text, str) and text:
            answer, think = remove_think_blocks(text, config)
            if answer != text:
                container[text_key] = answer
                changed = True
            if think:
                _append_text(container, config.reasoning_field, think)
                changed = True
        for key in reasoning_keys:
            if container.get(key) is not None:
                del container[key]
                changed = True
    return encode_json(obj) if changed else None
