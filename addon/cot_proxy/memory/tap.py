"""Keep mode and the reasoning memory: the answer passes as it came, and a copy is read for it.

In keep mode the proxy changes nothing, yet clients still drop the reasoning it delivered (most
SDKs drop `reasoning_content`). `RecallTap` passes every byte through the keep-mode stream as
it came and feeds the same bytes to a shadow `FilterStream` in reasoning mode that carries the
answer's `Recall`; the shadow's output is dropped. Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from cot_proxy.formats._api import Format
from cot_proxy.memory.recall import Recall
from cot_proxy.stream import FilterStream
from cot_proxy.think_config import ThinkConfig

logger = logging.getLogger(__name__)


def reading(config: ThinkConfig) -> ThinkConfig:
    """The settings a copy of a keep-mode answer is read with: its think blocks split off."""
    return dataclasses.replace(config, mode="reasoning")


class RecallTap:
    """A stream callable: `stream`'s output, and the same bytes read by a shadow for `recall`."""

    def __init__(
        self,
        stream: Callable[[bytes], list[bytes]],
        config: ThinkConfig,
        fmt: Format,
        recall: Recall,
    ) -> None:
        self.stream = stream
        self.recall = recall
        self.shadow: FilterStream | None = FilterStream(reading(config), fmt, recall=recall)

    def __call__(self, data: bytes) -> list[bytes]:
        shadow = self.shadow
        if shadow is not None:
            try:
                shadow(data)
                broken = shadow.passthrough or shadow.cut
            except Exception:  # never the answer's failure (FilterStream does not raise anyway)
                logger.debug("the reasoning memory's copy failed", exc_info=True)
                broken = True
            if broken:  # the copy could not be read to its end: nothing of it is remembered
                self.recall.overflow = True
                self.shadow = None
        return self.stream(data)
