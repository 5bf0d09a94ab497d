"""The channel step: what happens to one channel's text container, streamed or buffered alike.

A channel is one independent text stream of an answer (an OpenAI choice; see `cot_proxy.formats`)
with its own filter (`cot_proxy.filters.ChannelFilter`). Each piece of its text passes through `ChannelStep.apply`: answer
text goes back where the text was, think text is appended to the reasoning field (reasoning
mode) or dropped (strip mode, which also deletes reasoning the server split off itself).
Inline mode goes the other way: reasoning fields into the text, between tags.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import enum
from typing import Any
from typing import Protocol

from cot_proxy.filters import ChannelFilter
from cot_proxy.inline import InlineBlock
from cot_proxy.think_config import ThinkConfig
from cot_proxy.think_config import reasoning_keys


class Change(enum.Flag):
    """What `ChannelStep.apply` did to a container; combined with `|` over an event's channels."""

    NONE = 0
    CHANGED = enum.auto()  # the container was modified: its event must be re-encoded
    GAVE_TEXT = enum.auto()  # it now carries answer or think text: its event is worth sending


# Computed once: a Flag's "|" runs Python code, too slow for once per event.
_NONE = Change.NONE
_CHANGED = Change.CHANGED
_CHANGED_TEXT = Change.CHANGED | Change.GAVE_TEXT


class TextPlace(Protocol):
    """Where a format keeps a container's text and the reasoning servers split off (a
    `WireFormat` is one; so is an Ollama endpoint)."""

    @property
    def text_key(self) -> str: ...

    @property
    def upstream_reasoning_fields(self) -> tuple[str, ...]: ...


class ChannelStep:
    """The channel step for one answer's config and wire format (shared by all its channels)."""

    __slots__ = (
        "text_key",
        "reasoning_field",
        "think_keys",
        "drop_keys",
        "rename_keys",
        "gathers",
        "upstream_keys",
        "inline_keys",
        "inline",
    )

    def __init__(self, config: ThinkConfig, fmt: TextPlace) -> None:
        self.text_key = fmt.text_key
        self.inline = config.mode == "inline"
        self.reasoning_field = config.reasoning_field
        self.think_keys = reasoning_keys(config.reasoning_field)
        # Strip mode deletes reasoning however it came: split off upstream or in our own field.
        self.drop_keys: tuple[str, ...] = ()
        # Reasoning mode moves reasoning the upstream sent in another field to ours, so that a
        # client finds it where it looks.
        self.rename_keys: tuple[str, ...] = ()
        # Inline mode moves reasoning from these fields into the text.
        self.inline_keys: tuple[str, ...] = ()
        if config.mode == "strip":
            self.drop_keys = tuple(
                dict.fromkeys((*fmt.upstream_reasoning_fields, *self.think_keys))
            )
        elif config.mode == "reasoning":
            self.rename_keys = tuple(
                k for k in fmt.upstream_reasoning_fields if k not in self.think_keys
            )
        elif config.mode == "inline":
            self.inline_keys = tuple(
                dict.fromkeys((*fmt.upstream_reasoning_fields, *self.think_keys))
            )

        # Reasoning to rename or copy between fields: checked once per container.
        self.gathers = bool(self.rename_keys) or len(self.think_keys) > 1
        # Reasoning mode: the upstream's own reasoning, which ours is appended to.
        self.upstream_keys = (
            (*self.think_keys, *self.rename_keys) if config.mode == "reasoning" else ()
        )

    def apply(
        self, think_filter: ChannelFilter, container: dict[str, Any], finish: object = None
    ) -> Change:
        """Filter the container's text in place. `finish`: the channel's finish_reason when it
        ends here (not None), so the text `think_filter` still holds is released into this same
        container (before the finish); the reason decides what unclosed implicit text is.
        Inline mode: the filter is an `InlineBlock` (`cot_proxy.filters.Filters` makes one)."""
        if self.inline_keys and type(think_filter) is InlineBlock:
            return self._inline(think_filter, container, finish)
        for key in self.upstream_keys:  # before this container's text, in the same field
            value = container.get(key)
            if type(value) is str and value:
                think_filter.note_reasoning(value)
        text = container.get(self.text_key)
        answer = think = ""
        if type(text) is str and text:
            answer, think = think_filter.feed(text)
        if finish is not None:
            tail_answer, tail_think = think_filter.finish(finish)
            answer += tail_answer
            think += tail_think
        change = _NONE
        if (type(text) is str or answer) and answer != text:
            container[self.text_key] = answer
            change = _CHANGED_TEXT if answer else _CHANGED
        if self.gathers:
            if self._gather(container):
                change = _CHANGED_TEXT
        if think:
            for key in self.think_keys:
                existing = container.get(key)
                container[key] = existing + think if isinstance(existing, str) else think
            change = _CHANGED_TEXT
        for key in self.drop_keys:  # strip mode only
            if container.get(key) is not None:
                del container[key]
                if change is _NONE:
                    change = _CHANGED
        return change

    def _inline(self, block: InlineBlock, container: dict[str, Any], finish: object) -> Change:
        """Inline mode: the reasoning fields' text into the container's text, after the start
        tag when it opens a block; the end tag before the first answer text, tool call or the
        finish. The reasoning fields are deleted (null ones, which moved nothing, stay)."""
        change = _NONE
        reasoning = ""
        for key in self.inline_keys:
            value = container.get(key)
            if isinstance(value, str):
                del container[key]
                change = _CHANGED
                reasoning = reasoning or value  # "both": the two fields carry one text
        text = container.get(self.text_key)
        answer = block.feed(text)[0] if type(text) is str else ""
        added = block.open_block(reasoning) if reasoning else ""
        if finish is not None:
            added += block.finish(finish)[0]
        elif answer or container.get("tool_calls") or container.get("function_call"):
            added += block.close_block()
        if added:
            container[self.text_key] = added + answer
            return _CHANGED_TEXT
        return change

    def _gather(self, container: dict[str, Any]) -> bool:
        """Reasoning mode: upstream reasoning of other fields into ours (each of ours holding
        the same text); True when the container changed."""
        gathered = ""
        for key in (*self.think_keys, *self.rename_keys):
            value = container.get(key)
            if isinstance(value, str) and value:
                gathered = value
                break  # ours first; with "both" the two fields carry one text
        changed = False
        for key in self.rename_keys:
            if isinstance(container.get(key), str):
                del container[key]
                changed = True
        if gathered:
            for key in self.think_keys:
                if container.get(key) != gathered:
                    container[key] = gathered
                    changed = True
        return changed
