"""OpenAI chat completions: text in `choices[].delta.content`, buffered in `.message.content`.

Reasoning travels beside the text, in the same container (`reasoning_content` and the like).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from cot_proxy.formats import choices
from cot_proxy.formats.choices import DONE_PAYLOAD
from cot_proxy.formats.choices import UPSTREAM_REASONING_FIELDS
from cot_proxy.think_config import reasoning_keys

name = "chat"
text_key = "content"
upstream_reasoning_fields = UPSTREAM_REASONING_FIELDS
done_payload: bytes | None = DONE_PAYLOAD
failure = choices.failure

# The text container: each streamed choice's delta, each buffered choice's message. A streamed
# choice with no delta but a message is read there: strip mode must not pass its text unfiltered.
event_channels = choices.channel_reader("delta", "message")
body_containers = choices.container_reader("message")


def _empty_delta(key: str, value: Any) -> bool:
    """A delta with no text in it (null fields, or empty content): nothing to say."""
    if key != "delta" or type(value) is not dict:
        return False
    for field, field_value in value.items():
        if field_value is not None and not (field == text_key and field_value == ""):
            return False
    return True


carries_nothing = choices.nothing_reader(_empty_delta)


def released_event(
    last: dict[str, Any], channel: int, answer: str, think: str, reasoning_field: str
) -> dict[str, Any]:
    fields: dict[str, str] = {}  # a delta carries only what it has
    if answer:
        fields[text_key] = answer
    if think:
        for key in reasoning_keys(reasoning_field):
            fields[key] = think
    return choices.released_event(last, channel, fields, reasoning_field, "delta")


def channels_known(raw: bytes, known: Container[int]) -> bool:
    return choices.channels_known(raw, known, b'"delta"')
