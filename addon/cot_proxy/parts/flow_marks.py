"""FlowMarks: every flow shows what the proxy did with it, in mitmweb and in saved flows.

- A flow the proxy changed is marked (`MARK_CHANGED`) and its comment is the change list of
  the log line; a flow the proxy answered itself (/health, 400, 401, 413) is marked
  `MARK_LOCAL` and says "answered by cot-proxy". The comment is built from the change list
  only, which names settings and counts, never a header.
- Under mitmweb (the only tool with a `web_port` option) answers keep a transcript for the
  `cot-proxy` content view (`cot_proxy.contentview`), and a filtered stream keeps a bounded
  copy of what the client got as its body: mitmproxy stores none, and shows no view without.
"""

from __future__ import annotations

import logging

from mitmproxy import addonmanager
from mitmproxy import contentviews
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.contentview import CotProxyView
from cot_proxy.flow import notes
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.transcript import OUTPUT_LIMIT

logger = logging.getLogger(__name__)

MARK_CHANGED = ":brain:"
MARK_LOCAL = ":robot:"
ANSWERED_LOCALLY = "answered by cot-proxy"


class FlowMarks:
    def __init__(self, think: ThinkRemoval) -> None:
        self.think = think

    def load(self, loader: addonmanager.Loader) -> None:
        contentviews.add(CotProxyView)

    def running(self) -> None:
        self.think.record = "web_port" in ctx.options
        if self.think.record:
            logger.info("mitmweb: answers keep their text for the cot-proxy content view")

    def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response
        record = notes(flow)
        output = record.output
        if output is not None and response.stream and response.raw_content is None:
            # Streamed: bytes set after the fact only fill what mitmweb shows; none go out.
            response.data.content = bytes(output.copy)
        self.mark(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self.mark(flow)

    def mark(self, flow: http.HTTPFlow) -> None:
        record = notes(flow)
        if record.local:
            comment, mark = ANSWERED_LOCALLY, MARK_LOCAL
        elif changes := record.change_list():
            comment, mark = "cot-proxy changed: " + "; ".join(changes), MARK_CHANGED
        else:
            return
        if record.output is not None and record.output.truncated:
            comment += f" (body kept for mitmweb: its first {OUTPUT_LIMIT} bytes)"
        flow.marked = mark
        flow.comment = comment
