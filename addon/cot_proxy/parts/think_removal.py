"""ThinkRemoval: removes think blocks from answers of every wire format, streamed and buffered.

Streams of every wire format get a `FilterStream` as their `flow.response.stream` in
`responseheaders` (the headers go to the client right after, so every header fix happens
there); JSON answers are buffered and rewritten in `response`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from mitmproxy import addonmanager
from mitmproxy import ctx
from mitmproxy import http

from cot_proxy.body import filter_body_counted
from cot_proxy.codec import DecodingStream
from cot_proxy.codec import can_decode
from cot_proxy.detect.servers import AUTO
from cot_proxy.flow import FlowNotes
from cot_proxy.flow import error_for
from cot_proxy.flow import notes
from cot_proxy.formats._api import FAILURE_CODE
from cot_proxy.formats._api import failure_message
from cot_proxy.formats.registry import model_list_merger
from cot_proxy.memory.recall import Recall
from cot_proxy.memory.tap import RecallTap
from cot_proxy.memory.tap import reading
from cot_proxy.options import declare
from cot_proxy.options import env_name
from cot_proxy.options import reject
from cot_proxy.rules import ModelRule
from cot_proxy.stream import FilterStream
from cot_proxy.think import THINK_MODES
from cot_proxy.think import ThinkConfig
from cot_proxy.think_config import RESPONSES_REASONING
from cot_proxy.think_families import FAMILIES
from cot_proxy.think_families import FAMILY_NAMES
from cot_proxy.think_families import ThinkFamily
from cot_proxy.transcript import Tee
from cot_proxy.transcript import Transcript

logger = logging.getLogger(__name__)


class ThinkRemoval:
    def __init__(self) -> None:
        self.defaults = ThinkConfig()
        # Under mitmweb (set by FlowMarks): keep each answer's text for the cot-proxy view.
        self.record = False
        # THINK_FAMILY=auto: each model's family as detected (parts/detection.py).
        self.auto = False
        # The reasoning memory's recall of an answer, when its rule has history_restore
        # (parts/reasoning_memory.py sets it).
        self.recall_for: Callable[[http.HTTPFlow, ThinkConfig], Recall | None] = _no_recall

    def load(self, loader: addonmanager.Loader) -> None:
        declare(
            loader,
            "think_tag",
            "think_end_tag",
            "think_family",
            "think_mode",
            "reasoning_field",
            "responses_reasoning",
        )

    def configure(self, updated: set[str]) -> None:
        if not updated & {
            "think_tag",
            "think_end_tag",
            "think_family",
            "think_mode",
            "reasoning_field",
            "responses_reasoning",
        }:
            return
        start, end = ctx.options.think_tag, ctx.options.think_end_tag
        family = ctx.options.think_family.strip()
        mode = ctx.options.think_mode
        field = ctx.options.reasoning_field.strip()
        responses = ctx.options.responses_reasoning.strip()
        tag, end_tag = env_name("think_tag"), env_name("think_end_tag")
        if mode not in THINK_MODES:
            reject(f"think_mode (THINK_MODE) must be one of {', '.join(THINK_MODES)}, not {mode!r}")
        elif not start or not end:
            reject(f"{tag} and {end_tag} must not be empty")
        elif start == end:
            reject(f"{tag} and {end_tag} must differ (both are {start!r})")
        elif not field:
            reject(f"{env_name('reasoning_field')} must not be empty")
        elif responses not in RESPONSES_REASONING:
            reject(
                f"{env_name('responses_reasoning')} must be one of "
                f"{', '.join(RESPONSES_REASONING)}, not {responses!r}"
            )
        elif family and family not in FAMILIES and family != AUTO:
            reject(
                f"{env_name('think_family')} must be auto or one of {', '.join(FAMILY_NAMES)}, "
                f"not {family!r}"
            )
        elif not family or family == AUTO:
            self.auto = family == AUTO
            self.defaults = ThinkConfig(
                mode=mode,
                tags=((start, end),),
                reasoning_field=field,
                responses_reasoning=responses,
            )
        else:
            self.auto = False
            config = FAMILIES[family].apply(
                ThinkConfig(mode=mode, reasoning_field=field, responses_reasoning=responses)
            )
            # The tags set explicitly (not the defaults) win over the preset's first pair.
            first_start, first_end = config.tags[0]
            default = ThinkConfig().tags[0]
            first = (
                start if start != default[0] else first_start,
                end if end != default[1] else first_end,
            )
            self.defaults = dataclasses.replace(config, tags=(first, *config.tags[1:]))

    def config_for(
        self, rule: ModelRule | None, detected: ThinkFamily | None = None
    ) -> ThinkConfig:
        """The defaults, with the model's detected family (when auto applies), then its rule."""
        base = detected.apply(self.defaults) if detected is not None else self.defaults
        return rule.think_config(base) if rule else base

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response
        record = notes(flow)
        if record.local:
            return
        config = record.think or self.defaults
        fmt = record.format
        if fmt is None or response.status_code >= 400:
            # Passed on as it arrives, but for the model lists (for the request rules to add
            # the pseudo models) and error bodies (for the log), which are buffered.
            is_list = model_list_merger(record.endpoint) is not None
            if not (is_list or response.status_code >= 400):
                response.stream = True
            return
        content_type = response.headers.get("content-type", "")
        streamed = content_type.startswith(
            "application/x-ndjson" if fmt.framing == "ndjson" else "text/event-stream"
        )
        # Chat and completions: their streams are watched for the done event (`[DONE]`) in the
        # bytes, which an encoded body hides; the other formats' rewriters find their end.
        watched = fmt.done_payload is not None
        recall = self.recall_for(flow, config)  # the reasoning memory's (history_restore)
        if streamed and config.mode != "keep":
            transcript = self._transcript(record, config)
            stream = FilterStream(config, fmt, transcript=transcript, recall=recall)
            self._install_filter(flow, record, stream)
        elif streamed and (not watched or is_identity(response)):
            # Keep mode: bytes pass unchanged, watched for the first byte and the end (and
            # read by a copy for the reasoning memory).
            response.stream = record.stream = FilterStream(config, fmt)
            if recall is not None:
                response.stream = RecallTap(record.stream, config, fmt, recall)
        elif streamed or (
            config.mode == "keep" and recall is None
            if watched
            else not content_type.startswith("application/json")
        ):
            # Passed on as it arrives. The rest is buffered for the `response` hook: JSON
            # answers to rewrite (chat and completions: any answer that is no stream, unless
            # in keep mode without the reasoning memory).
            response.stream = True

    def _install_filter(self, flow: http.HTTPFlow, record: FlowNotes, stream: FilterStream) -> None:
        response = flow.response
        assert response
        record.stream = stream
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if is_identity(response):
            response.stream = stream
        elif can_decode(encoding):
            response.stream = DecodingStream(encoding, stream)
            del response.headers["content-encoding"]
            record.changes.append(f"decoded {encoding}")
        elif stream.config.mode == "strip":  # fail closed: the client gets an error event
            logger.warning(
                "%s: target sent the stream with Content-Encoding %s despite our identity "
                "request; strip mode cannot filter it, the client gets an error event instead",
                flow.request.path,
                encoding,
            )
            stream.refuse("encoding")
            response.stream = stream
            del response.headers["content-encoding"]
            record.changes.append(f"refused {encoding}")
        else:  # reasoning, inline: nothing to hide
            logger.warning(
                "%s: target sent the stream with Content-Encoding %s despite our identity "
                "request; passing it through unfiltered",
                flow.request.path,
                encoding,
            )
            response.stream = True
            stream.passthrough, stream.fallback_reason = True, "encoding"
            return
        if self.record:
            response.stream = record.output = Tee(response.stream)
        fix_framing(flow)

    @staticmethod
    def _refuse_body(flow: http.HTTPFlow) -> None:
        """Strip mode, a buffered answer the proxy cannot decode: a 502 error in its place."""
        response = flow.response
        assert response
        encoding = response.headers.pop("content-encoding", "")
        logger.warning(
            "%s: target sent the answer with Content-Encoding %s despite our identity request; "
            "strip mode cannot filter it, the client gets a 502 error instead",
            flow.request.path,
            encoding,
        )
        response.status_code = 502
        response.headers["content-type"] = "application/json"
        response.content = error_for(
            flow, failure_message("encoding"), "upstream_error", FAILURE_CODE
        )
        notes(flow).changes.append(f"refused {encoding}")

    def _transcript(self, record: FlowNotes, config: ThinkConfig) -> Transcript | None:
        if not self.record:
            return None
        record.transcript = Transcript(config.mode, config.reasoning_field)
        return record.transcript

    def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response
        record = notes(flow)
        if record.local or response.stream or response.status_code >= 400:
            return
        config = record.think or self.defaults
        fmt = record.format
        if fmt is None:
            return
        record.answered_at = time.time()  # a buffered answer goes out whole, right after
        recall = self.recall_for(flow, config)
        if config.mode == "keep" and recall is None:
            return
        if not response.headers.get("content-type", "").startswith("application/json"):
            return
        try:
            body = response.content
        except ValueError:  # undecodable content-encoding
            if config.mode == "strip":  # fail closed: an error in place of what may show think
                self._refuse_body(flow)
            return
        if body is None:
            return
        if config.mode == "keep":  # read for the reasoning memory only, the body left as it is
            filter_body_counted(body, reading(config), fmt, None, recall)
            return
        transcript = self._transcript(record, config)
        new_body, record.body_think_chars = filter_body_counted(
            body, config, fmt, transcript, recall
        )
        if new_body is not None:
            response.content = new_body
            if not record.body_think_chars:  # else the change list counts them (FlowNotes)
                record.changes.append(f"think {config.mode}")


def _no_recall(flow: http.HTTPFlow, config: ThinkConfig) -> Recall | None:
    return None


def is_identity(response: http.Response) -> bool:
    return response.headers.get("content-encoding", "identity").strip().lower() in ("", "identity")


def fix_framing(flow: http.HTTPFlow) -> None:
    """Frame a body whose length the filter changes for the client's HTTP version."""
    response = flow.response
    assert response
    response.headers.pop("content-length", None)
    chunked = "chunked" in response.headers.get("transfer-encoding", "")
    if flow.request.http_version == "HTTP/1.1" and not chunked:
        # Chunked framing keeps the client's connection alive; without it the body ends at close.
        response.headers["transfer-encoding"] = "chunked"
    elif flow.request.http_version == "HTTP/1.0" and chunked:
        # An HTTP/1.0 client knows no chunks: its body ends when the connection closes.
        del response.headers["transfer-encoding"]
