"""OpenAI's chat and completions answers: one `choices` list, one channel per choice.

A choice is named by its `index` (its position in the list when that is missing or not an int),
finishes when its `finish_reason` is set, and keeps its text in a container: the choice itself
(completions: `choices[].text`, streamed and buffered) or a dict under one key of it (chat:
`delta.content` streamed, `message.content` buffered). Reasoning travels beside the text, in
the same container (`reasoning_content` and the like). The two endpoints are one `ChoiceShape`
each (`chat`, `completions`), as Ollama's two are one `OllamaFormat` each; both stream with
`cot_proxy.formats.choices_stream.ChoicesRewriter`.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from collections.abc import Container
from typing import TYPE_CHECKING
from typing import Any

from cot_proxy import apierror
from cot_proxy.channel import Change
from cot_proxy.channel import ChannelStep
from cot_proxy.filters import Filters
from cot_proxy.formats import choices_request
from cot_proxy.formats._api import FAILURE_CODE
from cot_proxy.formats._api import Framing
from cot_proxy.formats.choices_stream import Channels
from cot_proxy.formats.choices_stream import ChoicesRewriter
from cot_proxy.jsonbytes import encode_json
from cot_proxy.think_config import ThinkConfig
from cot_proxy.think_config import reasoning_keys

if TYPE_CHECKING:
    from cot_proxy.history import History
    from cot_proxy.rules import ModelRule

# Reasoning that servers with a reasoning parser already split off (vLLM, SGLang, llama.cpp, ...).
UPSTREAM_REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning")

# The data of the event that ends an OpenAI stream.
DONE_PAYLOAD = b"[DONE]"

_CHOICE_INDEX = re.compile(rb'"index"\s*:\s*(\d+)')


@dataclasses.dataclass(frozen=True)
class ChoiceShape:
    """One endpoint of the choices family: where its choices keep their text."""

    name: str
    text_key: str
    # The key of the text container in a streamed choice; None: the choice itself.
    stream_key: str | None
    # The key of the text container in a buffered choice; None: the choice itself.
    body_key: str | None
    framing: Framing = "sse"
    upstream_reasoning_fields: tuple[str, ...] = UPSTREAM_REASONING_FIELDS
    done_payload: bytes | None = DONE_PAYLOAD
    # Where the user's words are: `prompt` (completions), else `messages` (chat).
    prompt: bool = False

    def event_channels(self, obj: Any) -> Channels | None:
        """The channels one decoded stream event carries, in order, as (channel, text container,
        finish reason); the channel finishes in this event when its finish reason is not None;
        container None when the choice has none (held text then goes out in an event of its own
        if it finishes). None: no choices list, not an answer event. A streamed choice with no
        container but a buffered one is read there: strip mode must not pass its text."""
        return _choices(obj, self.stream_key, self.body_key)

    def body_containers(self, obj: Any) -> list[tuple[dict[str, Any], Any]] | None:
        """(text container, finish reason) of each choice of a buffered answer that has a
        container; None: not an answer."""
        found = _choices(obj, self.body_key, None)
        if found is None:
            return None
        return [(container, reason) for _, container, reason in found if container is not None]

    def carries_nothing(self, obj: dict[str, Any]) -> bool:
        """True when a filtered event is left with no usage, and in each choice no non-null field
        but its index and an empty text (or a container holding nothing else)."""
        if obj.get("usage") is not None:
            return False
        choices = obj.get("choices")
        if not choices:
            return False
        stream_key, text_key = self.stream_key, self.text_key
        for choice in choices:
            if type(choice) is not dict:
                return False
            for key, value in choice.items():
                if key == "index" or value is None:
                    continue
                if stream_key is None:  # the choice is the container: only its empty text
                    if key != text_key or value != "":
                        return False
                elif key != stream_key or type(value) is not dict or not _empty(value, text_key):
                    return False
        return True

    def released_event(
        self, last: dict[str, Any], channel: int, answer: str, think: str, reasoning_field: str
    ) -> dict[str, Any]:
        """A new event carrying only text released at the end of `channel` (answer text, and
        think text in `reasoning_field`), shaped like `last`, the channel's last event: same
        envelope (id, object, created, model, ...), usage null (the upstream counts it once,
        in its own usage event), one choice whose other fields are null. A delta carries only
        what it has; a completions choice always has its text."""
        fields: dict[str, str] = {}
        if answer or self.stream_key is None:
            fields[self.text_key] = answer
        if think:
            for key in reasoning_keys(reasoning_field):
                fields[key] = think
        text_fields = {*UPSTREAM_REASONING_FIELDS, reasoning_field}
        choice: dict[str, Any] = {}
        for key in _choice_of(last, channel):
            if key not in text_fields:
                choice[key] = None  # logprobs, finish_reason, ...: nothing to say
        choice["index"] = channel
        if self.stream_key is None:
            choice.update(fields)
        else:
            choice[self.stream_key] = fields
        clone: dict[str, Any] = {}
        for key, value in last.items():
            if key == "choices":
                clone[key] = [choice]
            elif key == "usage":
                clone[key] = None
            else:
                clone[key] = value
        return clone

    def failure(self, message: str) -> bytes:
        """The error a stream ends with when strip mode cannot filter it: the
        `data: {"error": …}` llama-server and vLLM send mid-stream, which openai-python raises
        `APIError` on."""
        error = {"message": message, "type": "server_error", "param": None, "code": FAILURE_CODE}
        return b"data: " + encode_json({"error": error}) + b"\n\n"

    def channels_known(self, raw: bytes, known: Container[int]) -> bool:
        """Whether every choice `raw` may carry text for is in `known`, judged without parsing
        (implicit_start: a new channel holds all its text, so its events are parsed). Any
        `"index": N` counts; without one, any quoted container key."""
        indices = _CHOICE_INDEX.findall(raw)
        if not indices:
            return self._marker not in raw
        return all(int(index) in known for index in indices)

    @property
    def _marker(self) -> bytes:
        return b'"%s"' % (self.stream_key or self.text_key).encode()

    def rewriter(self, config: ThinkConfig, filters: Filters) -> ChoicesRewriter:
        return ChoicesRewriter(self, config, filters)

    def filter_body(self, obj: Any, config: ThinkConfig, filters: Filters) -> bool:
        """A buffered answer, in place: the same channel step once per choice, which is fed and
        finished at once (a missing finish_reason still finishes it: its text is complete)."""
        containers = self.body_containers(obj)
        if containers is None:
            return False
        step = ChannelStep(config, self)
        changed = False
        for channel, (container, reason) in enumerate(containers):
            if filters.transcript is not None:
                filters.transcript.add_dropped(channel, container, step.drop_keys)
            finish = "" if reason is None else reason
            if step.apply(filters(channel), container, finish) is not Change.NONE:
                changed = True
        return changed

    # The request side (`formats.choices_request`).

    def append_suffix(self, body: dict[str, Any], suffix: str) -> str | None:
        return choices_request.append_suffix(body, suffix, prompt=self.prompt)

    def rewrite_history(self, body: dict[str, Any], history: History) -> list[str]:
        return choices_request.rewrite_history(body, history)

    def error_body(self, message: str, type: str, code: str) -> bytes:
        return apierror.error_body(message, type, code)

    def rule_for(
        self, model: str, rule: ModelRule | None, match: Callable[[str], ModelRule | None]
    ) -> ModelRule | None:
        return rule


chat = ChoiceShape(name="chat", text_key="content", stream_key="delta", body_key="message")
completions = ChoiceShape(
    name="completions", text_key="text", stream_key=None, body_key=None, prompt=True
)


def _empty(container: dict[str, Any], text_key: str) -> bool:
    """A container with no text in it (null fields, or an empty text): nothing to say."""
    for field, value in container.items():
        if value is not None and not (field == text_key and value == ""):
            return False
    return True


def _choices(obj: Any, key: str | None, fallback_key: str | None) -> Channels | None:
    """Each choice as (index, text container or None, finish_reason), None without a choices
    list. `key` None: the choice is its own container; `fallback_key`: where a choice without
    one keeps its text instead."""
    choices = obj.get("choices") if type(obj) is dict else None
    if type(choices) is not list:
        return None
    found: Channels = []
    for position, choice in enumerate(choices):
        if type(choice) is dict:
            index = choice.get("index")
            container = choice if key is None else choice.get(key)
            if type(container) is not dict and fallback_key is not None:
                container = choice.get(fallback_key)
            found.append(
                (
                    index if type(index) is int else position,  # bool is no index either
                    container if type(container) is dict else None,
                    choice.get("finish_reason"),
                )
            )
    return found


def _choice_of(obj: dict[str, Any], index: int) -> dict[str, Any]:
    for channel, choice, _ in _choices(obj, None, None) or ():
        if channel == index and choice is not None:
            return choice
    return {}
