"""What the proxy knows about one flow: one typed record, `FlowNotes`, under one metadata key.

The parts write and read it instead of loose metadata keys: the request rules record the
endpoint, model and think settings; the think removal reads them and adds its stream; the log
line and the timeouts read what the others left.

mitmproxy saves a flow (`-w`, mitmweb's File → Save, `save_stream_file`) from a snapshot taken
with `copy.deepcopy(flow.metadata)` (`Flow.get_state`), and only plain values can be written.
So a `FlowNotes` deep-copies as its summary: a dict of plain values that serializes and loads
back (`mitmdump -nr`), while the live flow keeps the typed record.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mitmproxy import http

from cot_proxy.apierror import error_body_for
from cot_proxy.budget.plan import Plan
from cot_proxy.formats._api import EndpointFormat
from cot_proxy.formats.registry import Endpoint
from cot_proxy.formats.registry import api_of_path
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from cot_proxy.transcript import Tee
from cot_proxy.transcript import Transcript

METADATA_KEY = "cot_proxy"


@dataclasses.dataclass(eq=False)
class FlowNotes:
    endpoint: Endpoint | None = None
    """The endpoint the client's path names ("chat", "completions", "models"), if any."""
    format: EndpointFormat | None = None
    """Its wire format (`cot_proxy.formats.registry`), looked up once with the endpoint."""
    api: EndpointFormat | None = None
    """The API of the client's path, whose shape the proxy's errors take (`api_of`)."""
    model: str | None = None
    """The `model` the request body named."""
    think: ThinkConfig | None = None
    """The think settings for this request: the defaults overlaid with the model's rule."""
    changes: list[str] = dataclasses.field(default_factory=list)
    """What the proxy changed, in order, for the log line."""
    local: bool = False
    """Answered by the proxy itself (/health, 400, 401, 413): no other part touches it."""
    timed_out: bool = False
    """The target stayed silent past api_request_timeout."""
    stream: FilterStream | None = None
    """The stream filter installed on the response, if any."""
    transcript: Transcript | None = None
    """Under mitmweb: the answer's text as the client got it and the think text taken out."""
    output: Tee | None = None
    """Under mitmweb: a bounded copy of the streamed body the client got."""
    body_think_chars: int = 0
    """Think characters removed or moved from a buffered answer."""
    answered_at: float | None = None
    """When a buffered chat/completions answer went out (time.time()); streams keep their own."""
    counted_stream: bool = False
    """Counted in the streams-in-progress gauge (parts/metrics.py), until it ends."""
    budget: Plan | None = None
    """The request's thinking budget and how it is held (parts/thinking.py, think_budget.py)."""
    budget_outcome: str | None = None
    """within | native | forced, once known (cot_proxy_think_budget_total)."""

    @property
    def think_chars(self) -> int:
        return self.stream.think_chars if self.stream is not None else self.body_think_chars

    @property
    def first_answer_at(self) -> float | None:
        """When the first answer text went out, after any think block (time.time())."""
        return self.stream.first_answer_at if self.stream is not None else self.answered_at

    @property
    def complete(self) -> bool:
        """The format's end marker (`data: [DONE]`, `response.completed`, ...) reached the client: it has the whole answer,
        whatever happens to the connection after."""
        return self.stream is not None and self.stream.done_sent

    def change_list(self) -> list[str]:
        """What the proxy changed, as the log line and the flow comment say it: the same
        words for a streamed and a buffered answer."""
        if self.think_chars:
            mode = self.think.mode if self.think else "strip"
            return [*self.changes, f"think {mode}: {self.think_chars} chars"]
        return list(self.changes)

    def summary(self) -> dict[str, Any]:
        """The record as plain values: what a saved flow keeps."""
        summary: dict[str, Any] = {
            "endpoint": self.endpoint,
            "model": self.model,
            "think_mode": self.think.mode if self.think else None,
            "changes": list(self.changes),
            "local": self.local,
            "timed_out": self.timed_out,
            "think_chars": self.think_chars,
            "complete": self.complete,
        }
        if self.transcript is not None:
            summary["transcript"] = self.transcript.summary()
        return summary

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return self.summary()


def fresh_notes(flow: http.HTTPFlow) -> FlowNotes:
    """A new record for a flow that starts (again: a replayed one forgets its last run)."""
    record = flow.metadata[METADATA_KEY] = FlowNotes()
    return record


def notes(flow: http.HTTPFlow) -> FlowNotes:
    """The flow's record, created on first use.

    A flow loaded from a file holds the summary dict instead (the parts never see it:
    `cot_proxy.addon`).
    """
    found = flow.metadata.get(METADATA_KEY)
    if type(found) is not FlowNotes:
        found = flow.metadata[METADATA_KEY] = FlowNotes()
    return found


def saved_notes(flow: http.HTTPFlow) -> dict[str, Any] | None:
    """The flow's notes as plain values, for a live flow and for one loaded from a file alike."""
    found = flow.metadata.get(METADATA_KEY)
    if type(found) is FlowNotes:
        return found.summary()
    return found if isinstance(found, dict) else None


def answer_locally(flow: http.HTTPFlow, status: int, body: bytes) -> http.Response:
    """Answer the flow from the proxy with a JSON body; the target is not contacted."""
    response = flow.response = http.Response.make(
        status, body, {"Content-Type": "application/json"}
    )
    notes(flow).local = True
    return response


def api_of(flow: http.HTTPFlow) -> EndpointFormat | None:
    """The API the client speaks, for the shape of an error: the one the request rules
    recorded from the client's path, else the one the path names (hooks before them, which see
    the client's path still); None: OpenAI's."""
    known = notes(flow).api
    if known is not None:
        return known
    return api_of_path(flow.request.method, flow.request.path)


def error_for(flow: http.HTTPFlow, message: str, type: str, code: str) -> bytes:
    """An error of the proxy's own in the shape of the client's API (`apierror.error_body_for`):
    Anthropic's for Messages, Ollama's `{"error": "..."}` for its native API, else OpenAI's."""
    return error_body_for(api_of(flow), message, type, code)


def answer_error(
    flow: http.HTTPFlow, status: int, message: str, type: str, code: str
) -> http.Response:
    """Answer the flow from the proxy with an error in the client's API's shape."""
    return answer_locally(flow, status, error_for(flow, message, type, code))
