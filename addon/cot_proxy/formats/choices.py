"""The `choices` list that OpenAI's chat and completions answers share: one channel per choice.

A choice is named by its `index` (its position in the list when that is missing or not an int),
finishes when its `finish_reason` is set, and keeps its text in a container: the choice itself
(completions) or a dict under one key of it (chat: `delta` streamed, `message` buffered).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Container
from typing import Any

from cot_proxy.events import FAILURE_CODE

# Reasoning that servers with a reasoning parser already split off (vLLM, SGLang, llama.cpp, ...).
UPSTREAM_REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning")
# The data of the event that ends an OpenAI stream.
DONE_PAYLOAD = b"[DONE]"


def failure(message: str) -> dict[str, Any]:
    """The error a stream ends with when strip mode cannot filter it: the `data: {"error": …}`
    llama-server and vLLM send mid-stream, which openai-python raises `APIError` on."""
    return {
        "error": {"message": message, "type": "server_error", "param": None, "code": FAILURE_CODE}
    }


_CHOICE_INDEX = re.compile(rb'"index"\s*:\s*(\d+)')

# (channel, text container or None, finish_reason) per choice: see WireFormat.event_channels.
Channels = list[tuple[int, dict[str, Any] | None, Any]]


def channel_reader(
    container_key: str | None, fallback_key: str | None = None
) -> Callable[[Any], Channels | None]:
    """A format's `event_channels`: each choice as (index, text container or None,
    finish_reason), None without a choices list. `container_key` None: the choice is its own
    container; `fallback_key`: where a choice without one keeps its text instead."""

    def event_channels(obj: Any) -> Channels | None:
        choices = obj.get("choices") if type(obj) is dict else None
        if type(choices) is not list:
            return None
        found: Channels = []
        for position, choice in enumerate(choices):
            if type(choice) is dict:
                index = choice.get("index")
                container = choice if container_key is None else choice.get(container_key)
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

    return event_channels


def container_reader(
    container_key: str | None,
) -> Callable[[Any], list[tuple[dict[str, Any], Any]] | None]:
    """A format's `body_containers`: (text container, finish_reason) of each choice that has
    a container."""
    channels = channel_reader(container_key)

    def body_containers(obj: Any) -> list[tuple[dict[str, Any], Any]] | None:
        found = channels(obj)
        if found is None:
            return None
        return [(container, reason) for _, container, reason in found if container is not None]

    return body_containers


def nothing_reader(empty: Callable[[str, Any], bool]) -> Callable[[dict[str, Any]], bool]:
    """A format's `carries_nothing`: no usage, and in each choice no non-null field but its
    index and those `empty(key, value)` accepts."""

    def carries_nothing(obj: dict[str, Any]) -> bool:
        if obj.get("usage") is not None:
            return False
        choices = obj.get("choices")
        if not choices:
            return False
        for choice in choices:
            if type(choice) is not dict:
                return False
            for key, value in choice.items():
                if key != "index" and value is not None and not empty(key, value):
                    return False
        return True

    return carries_nothing


def released_event(
    last: dict[str, Any],
    index: int,
    fields: dict[str, str],
    reasoning_field: str,
    container_key: str | None,
) -> dict[str, Any]:
    """An event for choice `index` carrying only `fields`, shaped like `last`, its last event.

    Same envelope (id, object, created, model, ...), usage null (the upstream counts it once,
    in its own usage event), one choice whose other fields are null.
    """
    text_fields = {*UPSTREAM_REASONING_FIELDS, reasoning_field}
    choice: dict[str, Any] = {}
    for key in _choice_of(last, index):
        if key not in text_fields:
            choice[key] = None  # logprobs, finish_reason, ...: nothing to say
    choice["index"] = index
    if container_key is None:
        choice.update(fields)
    else:
        choice[container_key] = fields
    clone: dict[str, Any] = {}
    for key, value in last.items():
        if key == "choices":
            clone[key] = [choice]
        elif key == "usage":
            clone[key] = None
        else:
            clone[key] = value
    return clone


def _choice_of(obj: dict[str, Any], index: int) -> dict[str, Any]:
    for channel, choice, _ in _choices(obj) or ():
        if channel == index and choice is not None:
            return choice
    return {}


_choices = channel_reader(None)  # each choice as its own container


def channels_known(raw: bytes, known: Container[int], text_marker: bytes) -> bool:
    """Whether every choice `raw` may carry text for is in `known` (no JSON parse).

    Any `"index": N` counts; without one, any `text_marker` (the quoted container key).
    """
    indices = _CHOICE_INDEX.findall(raw)
    if not indices:
        return text_marker not in raw
    return all(int(index) in known for index in indices)
