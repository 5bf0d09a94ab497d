"""Think-block removal for a buffered (non-streamed) JSON answer, in any wire format: decoded
once, rewritten in place by the format (`cot_proxy.formats._api.Format.filter_body`), encoded.

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import logging

from cot_proxy.filters import Filters
from cot_proxy.formats._api import Format
from cot_proxy.jsonbytes import dumps_body
from cot_proxy.jsonbytes import loads_body
from cot_proxy.memory.recall import Recall
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Transcript

logger = logging.getLogger(__name__)


def filter_body(
    body: bytes, config: ThinkConfig, fmt: Format, transcript: Transcript | None = None
) -> bytes | None:
    """`filter_body_counted` without the count."""
    return filter_body_counted(body, config, fmt, transcript)[0]


def filter_body_counted(
    body: bytes,
    config: ThinkConfig,
    fmt: Format,
    transcript: Transcript | None = None,
    recall: Recall | None = None,
) -> tuple[bytes | None, int]:
    """Rewrite a buffered JSON answer: (the new body, None when unchanged or not applicable;
    the think characters removed or moved). Never raises.

    Same rules as the stream: only the answer text changes (`fmt` says where it is); strip mode
    also deletes the reasoning the upstream split off; reasoning mode puts the think text where
    the format keeps reasoning. Key order is kept; the result is compact UTF-8 JSON.
    `transcript`, if given, records each channel's text; `recall` (the reasoning memory) too,
    and reads the answer before it is rewritten.
    """
    if config.mode == "keep":
        return None, 0
    filters = Filters(config, transcript, recall=recall)
    try:
        obj = loads_body(body)  # not decode_json: this also takes UTF-16/32 and a BOM
    except (ValueError, RecursionError):
        return None, 0
    try:
        if recall is not None:
            recall.scan(obj)
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
