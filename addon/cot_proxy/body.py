"""Think-block removal for a buffered (non-streamed) JSON answer: the channel step, once per
channel (choice formats), or the event format's own `filter_body`.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import logging

from cot_proxy.channel import Change
from cot_proxy.channel import ChannelStep
from cot_proxy.events import EventFormat
from cot_proxy.filters import Filters
from cot_proxy.formats import WireFormat
from cot_proxy.jsonbytes import dumps_body
from cot_proxy.jsonbytes import loads_body
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Transcript

logger = logging.getLogger(__name__)


def filter_body(
    body: bytes, config: ThinkConfig, fmt: WireFormat, transcript: Transcript | None = None
) -> bytes | None:
    """`filter_body_counted` without the count."""
    return filter_body_counted(body, config, fmt, transcript)[0]


def filter_body_counted(
    body: bytes, config: ThinkConfig, fmt: WireFormat, transcript: Transcript | None = None
) -> tuple[bytes | None, int]:
    """Rewrite a buffered JSON answer: (the new body, None when unchanged or not applicable;
    the think characters removed or moved). Never raises.

    Same rules as the stream: only the answer text changes (`fmt` says where it is); strip mode
    also deletes upstream reasoning fields; reasoning mode appends the think text to the
    container's `config.reasoning_field` (after any value already there). Key order is kept;
    the result is compact UTF-8 JSON. `transcript`, if given, records each channel's text.
    """
    if config.mode == "keep":
        return None, 0
    try:
        return _filter_body(body, config, fmt, transcript)
    except Exception as exc:  # the addon must never break a response over this
        logger.error("think filter failed on a JSON body (%s); left unchanged", type(exc).__name__)
        logger.debug("think filter failure", exc_info=True)
        return None, 0


def _filter_body(
    body: bytes, config: ThinkConfig, fmt: WireFormat, transcript: Transcript | None
) -> tuple[bytes | None, int]:
    try:
        obj = loads_body(body)  # not decode_json: this also takes UTF-16/32 and a BOM
    except (ValueError, RecursionError):
        return None, 0
    containers = fmt.body_containers(obj)
    if containers is None:
        return None, 0
    step = ChannelStep(config, fmt)
    filters = Filters(config, transcript)
    changed = False
    for channel, (container, reason) in enumerate(containers):
        if transcript is not None:
            transcript.add_dropped(channel, container, step.drop_keys)
        think_filter = filters(channel)
        # The whole text is here: each channel is fed and finished at once (a missing
        # finish_reason still finishes it: its text is complete).
        finish = "" if reason is None else reason
        if step.apply(think_filter, container, finish) is not Change.NONE:
            changed = True
    return (dumps_body(obj) if changed else None), filters.think_chars


def filter_event_body_counted(
    body: bytes, config: ThinkConfig, fmt: EventFormat, transcript: Transcript | None = None
) -> tuple[bytes | None, int]:
    """`filter_body_counted` for an event format's buffered answer (Responses, Messages, Ollama
    with `"stream": false`): the format rewrites the decoded answer. Never raises."""
    if config.mode == "keep":
        return None, 0
    filters = Filters(config, transcript)
    try:
        obj = loads_body(body)
    except (ValueError, RecursionError):
        return None, 0
    try:
        changed = fmt.filter_body(obj, config, filters)
        new_body = dumps_body(obj) if changed else None
    except Exception as exc:  # the addon must never break a response over this
        logger.error(
            "%s think filter failed on a JSON body (%s); left unchanged",
            fmt.name,
            type(exc).__name__,
        )
        logger.debug("think filter failure", exc_info=True)
        return None, 0
    return new_body, filters.think_chars
