"""The `cot-proxy` content view: what the client got and the think text taken out of an answer.

mitmweb shows a body as mitmproxy stored it: a buffered answer already filtered, a streamed one
not at all. This view shows the transcript the proxy kept under mitmweb (`FlowNotes.transcript`,
`cot_proxy.transcript`), for live flows and flows loaded from a file. It is chosen
automatically for every answer that has one; elsewhere it never is.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import contentviews
from mitmproxy import http

from cot_proxy.flow import saved_notes
from cot_proxy.transcript import render

NAME = "cot-proxy"
NO_TRANSCRIPT = (
    "cot-proxy kept no transcript of this message: it keeps one under mitmweb, for the answers "
    "of the endpoints it filters.\n"
)


class CotProxyView(contentviews.Contentview):
    @property
    def name(self) -> str:
        return NAME

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        summary = _transcript(metadata)
        if summary is None:  # said plainly: a raise would show the user a traceback
            return NO_TRANSCRIPT
        return render(summary)

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        # Above every built-in view (json is 1), for the answers we filtered only.
        return 2 if _transcript(metadata) is not None else -1


def _transcript(metadata: contentviews.Metadata) -> dict[str, Any] | None:
    flow = metadata.flow
    if not isinstance(flow, http.HTTPFlow) or metadata.http_message is not flow.response:
        return None
    notes = saved_notes(flow)
    transcript = notes.get("transcript") if notes else None
    return transcript if isinstance(transcript, dict) else None
