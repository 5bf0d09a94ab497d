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
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkFilter

logger = logging.getLogger(__name__)


def filter_body(body: bytes, config: ThinkConfig, fmt: WireFormat) -> bytes | None:
    """Rewrite a buffered JSON answer; None when unchanged or not applicable. Never raises.

    Same rules as the stream: only the answer text changes (`fmt` says where it is); strip mode
    also deletes upstream reasoning fields; reasoning mode appends the think text to the
    container's `config.reasoning_field` (after any value already there). Key order is kept;
    the result is compact UTF-8 JSON.
    """
    if config.mode == "keep":
        return None
    try:
        return _filter_body(body, config, fmt)
    except Exception as exc:  # the addon must never break a response over this
        logger.error("think filter failed on a JSON body (%s); left unchanged", type(exc).__name__)
        logger.debug("think filter failure", exc_info=True)
        return None


def _filter_body(body: bytes, config: ThinkConfig, fmt: WireFormat) -> bytes | None:
    try:
        obj = json.loads(body)  # not decode_json: json.loads also takes UTF-16/32 and a BOM
    except (ValueError, RecursionError):
        return None
    containers = fmt.body_containers(obj)
    if containers is None:
        return None
    step = ChannelStep(config, fmt)
    changed = False
    for container, reason in containers:
        # The whole text is here: each channel is fed and finished at once (a missing
        # finish_reason still finishes it: its text is complete).
        finish = "" if reason is None else reason
        if step.apply(ThinkFilter(config), container, finish) is not Change.NONE:
            changed = True
    return encode_json(obj) if changed else None
