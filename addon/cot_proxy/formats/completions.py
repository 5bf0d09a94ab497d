"""OpenAI (legacy) completions: text in `choices[].text`, streamed and buffered alike.

Reasoning travels beside the text, in the choice itself (`reasoning_content` and the like).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from cot_proxy.formats import choices
from cot_proxy.formats.choices import DONE_PAYLOAD
from cot_proxy.formats.choices import UPSTREAM_REASONING_FIELDS
from cot_proxy.think_config import reasoning_keys

name = "completions"
text_key = "text"
upstream_reasoning_fields = UPSTREAM_REASONING_FIELDS
done_payload: bytes | None = DONE_PAYLOAD
failure = choices.failure

# The text container: the choice itself, streamed or buffered.
event_channels = choices.channel_reader(None)
body_containers = choices.container_reader(None)


def _empty_text(key: str, value: Any) -> bool:
    return key == text_key and value == ""


carries_nothing = choices.nothing_reader(_empty_text)


def released_event(
    last: dict[str, Any], channel: int, answer: str, think: str, reasoning_field: str
) -> dict[str, Any]:
    fields = {text_key: answer}  # a completions choice always has its text
    if think:
        for key in reasoning_keys(reasoning_field):
            fields[key] = think
    return choices.released_event(last, channel, fields, reasoning_field, None)


def channels_known(raw: bytes, known: Container[int]) -> bool:
    return choices.channels_known(raw, known, b'"text"')
