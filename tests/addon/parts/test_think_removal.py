"""ThinkRemoval: how a response is handled (stream filter, framing, buffered rewrite)."""

from __future__ import annotations

import gzip
import json

import pytest
from mitmproxy import exceptions
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tutils

from cot_proxy.codec import DecodingStream
from cot_proxy.flow import notes
from cot_proxy.formats import Endpoint
from cot_proxy.formats import format_of
from cot_proxy.parts.think_removal import ThinkRemoval
from cot_proxy.stream import FilterStream
from cot_proxy.think import ThinkConfig
from tests.addon.flows import answer
from tests.addon.flows import chat_flow
from tests.addon.flows import sse_response


def think_flow(
    config: ThinkConfig | None = None, endpoint: Endpoint | None = "chat"
) -> http.HTTPFlow:
    flow = chat_flow({"model": "m", "stream": True})
    notes(flow).endpoint = endpoint
    notes(flow).format = format_of(endpoint)  # as the request rules write it
    if config:
        notes(flow).think = config
    return flow


def test_sse_gets_filter_and_framing_fixed():
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow)
        think.responseheaders(flow)
        assert isinstance(flow.response.stream, FilterStream)
        assert "content-length" not in flow.response.headers
        assert flow.response.headers["transfer-encoding"] == "chunked"


def test_keep_mode_streams_untouched():
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow(ThinkConfig(mode="keep"))
        sse_response(flow)
        think.responseheaders(flow)
        # Watched for the done event, bytes unchanged, so the length still holds.
        stream = flow.response.stream
        assert isinstance(stream, FilterStream) and notes(flow).stream is stream
        assert stream(b"data: [DONE]\n\n") == [b"data: [DONE]\n\n"] and notes(flow).complete
        assert flow.response.headers["content-length"] == "123"


@pytest.mark.parametrize("status", [400, 401, 500])
def test_error_responses_never_filtered(status):
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow, status=status)
        think.responseheaders(flow)
        assert not callable(flow.response.stream)


def test_other_endpoints_stream_through():
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow(endpoint=None)
        flow.response = tutils.tresp(headers=http.Headers(content_type="application/x-ndjson"))
        think.responseheaders(flow)
        assert flow.response.stream is True


def test_local_responses_skipped():
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow)
        notes(flow).local = True
        think.responseheaders(flow)
        assert flow.response.stream is False


def test_gzip_stream_decoded_and_filtered():
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow, content_encoding="gzip")
        think.responseheaders(flow)
        assert isinstance(flow.response.stream, DecodingStream)
        assert "content-encoding" not in flow.response.headers
        event = b'data: {"choices":[{"index":0,"delta":{"content":"<think>x</think>Hi"}}]}\n\n'
        out = flow.response.stream(gzip.compress(event)) + flow.response.stream(b"")
        text = b"".join(out)
        assert b"Hi" in text and b"think" not in text


def test_strip_mode_refuses_a_stream_it_cannot_decode(caplog):
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        sse_response(flow, content_encoding="x-custom")
        think.responseheaders(flow)
        stream = flow.response.stream
        assert isinstance(stream, FilterStream) and stream.cut
        assert "content-encoding" not in flow.response.headers
        assert "error event instead" in caplog.text
        out = b"".join(stream(b"\x28\xb5<think>secret") + stream(b"more") + stream(b""))
        assert out.startswith(b'data: {"error":') and b"secret" not in out
        assert json.loads(out[6:])["error"]["code"] == "think_filter_failed"
        assert stream.fallback_reason == "encoding"


def test_other_modes_pass_an_undecodable_stream_through(caplog):
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow(ThinkConfig(mode="reasoning"))
        sse_response(flow, content_encoding="x-custom")
        think.responseheaders(flow)
        assert flow.response.stream is True
        assert flow.response.headers["content-encoding"] == "x-custom"
        assert "unfiltered" in caplog.text


@pytest.mark.parametrize(("mode", "status"), [("strip", 502), ("reasoning", 200)])
def test_a_buffered_answer_it_cannot_decode(mode: str, status: int) -> None:
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow(ThinkConfig(mode=mode))  # type: ignore[arg-type]
        flow.response = tutils.tresp(content=b"")
        flow.response.headers["content-type"] = "application/json"
        flow.response.headers["content-encoding"] = "x-custom"
        flow.response.raw_content = b'{"choices":[{"message":{"content":"<think>secret"}}]}'
        think.responseheaders(flow)
        think.response(flow)
        assert flow.response.status_code == status
        if mode == "strip":
            assert b"secret" not in (flow.response.content or b"")
            assert flow.response.json()["error"]["code"] == "think_filter_failed"
            assert "content-encoding" not in flow.response.headers


def test_think_options_validated(started):
    think = ThinkRemoval()
    with taddons.context(think) as tctx:
        with pytest.raises(
            exceptions.OptionsError, match="must be one of strip, reasoning, keep, inline"
        ):
            tctx.configure(think, think_mode="hide")
        with pytest.raises(exceptions.OptionsError, match="must differ"):
            tctx.configure(think, think_tag="<t>", think_end_tag="<t>")
        tctx.configure(
            think, think_tag="<thinking>", think_end_tag="</thinking>", think_mode="reasoning"
        )
        assert think.defaults == ThinkConfig(
            mode="reasoning", tags=(("<thinking>", "</thinking>"),)
        )


def test_buffered_chat_response_filtered():
    think = ThinkRemoval()
    with taddons.context(think):
        flow = think_flow()
        body = {
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "<think>a</think>\n\nB"}}
            ]
        }
        flow.response = tutils.tresp(content=json.dumps(body).encode())
        flow.response.headers["content-type"] = "application/json"
        think.responseheaders(flow)
        assert not flow.response.stream
        think.response(flow)
        assert flow.response.json()["choices"][0]["message"]["content"] == "B"
        assert int(flow.response.headers["content-length"]) == len(answer(flow).content or b"")


def test_think_family_option(started):
    think = ThinkRemoval()
    with taddons.context(think) as tctx:
        with pytest.raises(
            exceptions.OptionsError, match="THINK_FAMILY must be auto or one of qwen3, "
        ):
            tctx.configure(think, think_family="qwen9")
        tctx.configure(think, think_family="mistral", think_mode="reasoning")
        assert think.defaults == ThinkConfig(
            mode="reasoning", tags=(("[THINK]", "[/THINK]"),), end_markers=()
        )
        # a tag set explicitly (not the default) replaces that side of the first pair
        tctx.configure(think, think_family="deepseek_r1", think_end_tag="</reasoning>")
        assert think.defaults.tags == (("<think>", "</reasoning>"),)
        assert think.defaults.implicit_start
        tctx.configure(think, think_family="", think_end_tag="</think>")
        assert think.defaults == ThinkConfig(mode="reasoning")


def test_responses_reasoning_option(started):
    think = ThinkRemoval()
    with taddons.context(think) as tctx:
        with pytest.raises(
            exceptions.OptionsError,
            match="RESPONSES_REASONING must be one of text, summary, both, not 'summaries'",
        ):
            tctx.configure(think, responses_reasoning="summaries")
        assert think.defaults.responses_reasoning == "text"
        tctx.configure(think, responses_reasoning="summary", think_family="qwen3")
        defaults = think.defaults  # (read again: mypy would keep "text" from the assert above)
        assert defaults.responses_reasoning == "summary"
        tctx.configure(think, responses_reasoning="both", think_family="")
        assert think.defaults == ThinkConfig(responses_reasoning="both")
