"""Think-block removal for a buffered (non-streamed) JSON answer: the channel step, once per channel.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import json
import logging

from cot_proxy.channel import Change
from cot_proxy.channel import ChannelStep
from cot_proxy.formats import WireFormat
from cot_proxy.jsonbytes import encode_json
from cot_proxy.think import DEFAULT_MAX_HELD_CHARS
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter
from cot_proxy.transcript import Transcript

logger = logging.getLogger(__name__)


def filter_body(
    body: bytes, config: ThinkConfig, fmt: WireFormat, transcript: Transcript | None = None
) -> bytes | None:
    """Rewrite a buffered JSON answer; None when unchanged or not applicable. Never raises.

    Same rules as the stream: only the answer text changes (`fmt` says where it is); strip mode
    also deletes upstream reasoning fields; reasoning mode appends the think text to the
    container's `config.reasoning_field` (after any value already there). Key order is kept;
    the result is compact UTF-8 JSON. `transcript`, if given, records each channel's text.
    """
    if config.mode == "keep":
        return None
    try:
        return _filter_body(body, config, fmt, transcript)
    except Exception as exc:  # the addon must never break a response over this
        logger.error("think filter failed on a JSON body (%s); left unchanged", type(exc).__name__)
        logger.debug("think filter failure", exc_info=True)
        return None


def _filter_body(
    body: bytes, config: ThinkConfig, fmt: WireFormat, transcript: Transcript | None
) -> bytes | None:
    try:
        obj = json.loads(body)  # not decode_json: json.loads also takes UTF-16/32 and a BOM
    except (ValueError, RecursionError):
        return None
    containers = fmt.body_containers(obj)
    if containers is None:
        return None
    step = ChannelStep(config, fmt)
    changed = False
    for channel, container in enumerate(containers):
        think_filter = ThinkFilter(config)
        if transcript is not None:
            transcript.add_dropped(channel, container, step.drop_keys)
            think_filter = transcript.new_filter(channel, config, DEFAULT_MAX_HELD_CHARS)
        # The whole text is here: each channel is fed and finished at once.
        if step.apply(think_filter, container, finishing=True) is not Change.NONE:
            changed = True
    return encode_json(obj) if changed else None
