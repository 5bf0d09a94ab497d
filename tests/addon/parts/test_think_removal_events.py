"""ThinkRemoval with an event format (Responses, Messages, Ollama): which answers get a
FilterStream, which are buffered for filter_body, which pass untouched. A toy format stands in
for the real ones (tests/unit/test_eventstream.py), registered under the "responses" endpoint."""

from __future__ import annotations

import json

import pytest
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.flow import notes
from cot_proxy.formats import EVENT_FORMATS
from cot_proxy.formats import Endpoint
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from tests.addon.flows import answer
from tests.addon.flows import chat_flow
from tests.unit.test_eventstream import Toy


@pytest.fixture(params=["sse", "ndjson"])
def toy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Toy:
    fmt = Toy(request.param)
    monkeypatch.setitem(EVENT_FORMATS, "responses", fmt)
    return fmt


def event_flow(
    content_type: str, status: int = 200, config: ThinkConfig | None = None, body: bytes = b""
) -> http.HTTPFlow:
    flow = chat_flow({"model": "m", "stream": True}, path="/v1/responses")
    endpoint: Endpoint = "responses"
    notes(flow).endpoint = endpoint
    notes(flow).format = EVENT_FORMATS[endpoint]  # as the request rules write it
    if config:
        notes(flow).think = config
    flow.response = tutils.tresp(status_code=status, content=body)
    flow.response.headers.clear()
    flow.response.headers["content-type"] = content_type
    flow.response.headers["content-length"] = str(len(body))
    return flow


def stream_type(toy: Toy) -> str:
    return "text/event-stream" if toy.framing == "sse" else "application/x-ndjson"


def test_a_stream_of_the_format_gets_an_event_stream(toy: Toy) -> None:
    think = ThinkRemoval()
    with taddons.context(think):
        flow = event_flow(stream_type(toy))
        think.responseheaders(flow)
        stream = answer(flow).stream
        assert isinstance(stream, FilterStream) and notes(flow).stream is stream
        assert stream.format is toy
        assert "content-length" not in answer(flow).headers  # the filter changes the length
        assert answer(flow).headers["transfer-encoding"] == "chunked"


def test_keep_mode_watches_the_bytes_unchanged(toy: Toy) -> None:
    think = ThinkRemoval()
    with taddons.context(think):
        flow = event_flow(stream_type(toy), config=ThinkConfig(mode="keep"))
        think.responseheaders(flow)
        stream = answer(flow).stream
        assert isinstance(stream, FilterStream)
        assert stream(b"<think>x") == [b"<think>x"] and stream(b"") == []
        assert notes(flow).complete and answer(flow).headers["content-length"] == "0"


@pytest.mark.parametrize("status", [400, 500])
def test_error_answers_are_buffered_and_left_alone(toy: Toy, status: int) -> None:
    think = ThinkRemoval()
    with taddons.context(think):
        body = json.dumps({"text": "<think>x</think>y"}).encode()
        flow = event_flow("application/json", status, body=body)
        think.responseheaders(flow)
        assert not answer(flow).stream
        think.response(flow)
        assert answer(flow).content == body


def test_a_json_answer_goes_through_filter_body(toy: Toy) -> None:
    think = ThinkRemoval()
    with taddons.context(think):
        body = json.dumps({"text": "<think>plan</think>Hello"}).encode()
        flow = event_flow("application/json", body=body)
        think.responseheaders(flow)
        assert not answer(flow).stream
        think.response(flow)
        assert answer(flow).json() == {"text": "Hello"}
        assert notes(flow).think_chars == 4
        assert notes(flow).change_list() == ["think strip: 4 chars"]  # as a stream says it


def test_other_content_streams_as_it_comes(toy: Toy) -> None:
    think = ThinkRemoval()
    with taddons.context(think):
        flow = event_flow("text/plain")
        think.responseheaders(flow)
        assert answer(flow).stream is True


def test_the_ollama_model_list_is_buffered_for_the_pseudo_models() -> None:
    think = ThinkRemoval()
    with taddons.context(think):
        flow = event_flow("application/json")
        notes(flow).endpoint = "ollama_tags"
        notes(flow).format = None
        think.responseheaders(flow)
        assert not answer(flow).stream
