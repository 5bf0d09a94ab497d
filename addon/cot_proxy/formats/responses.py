"""The OpenAI Responses API (`POST …/responses`) as an event format.

A streamed answer is SSE events (`event: <type>` + `data: {…}`), each with a `sequence_number`,
that add output items (`response.output_item.added`), fill them (`response.output_text.delta`
for a message's text, `response.reasoning_text.delta` or `response.reasoning_summary_text.delta`
for reasoning, …), close them (`….done`, repeating the whole text) and end with
`response.completed`, `response.incomplete` or `response.failed`, which carry the whole
`response` again. Items are numbered by `output_index` (llama-server sends none, nor
`content_index` or `sequence_number`: its events are placed by `item_id`). Shapes: openai-python's
`openai/types/responses`, as vLLM (vllm/entrypoints/openai/responses/simple_streaming_events.py)
and Ollama (openai/responses.go, `ResponsesStreamConverter`) send them.

Per message item and content part (a channel), the answer text goes through a think filter:

- strip: think blocks leave the text; reasoning items leave with all their events.
- reasoning: think text becomes a reasoning item of ours (`responses_items.NewReasoning`),
  placed before the message it came from: the message's `output_item.added` and
  `content_part.added` are held until its first answer text. Think text that comes after the
  first answer text goes into a reasoning item right after the message. Reasoning items the
  upstream sent stay as they came.
- inline: reasoning items leave; their text goes into the next message's first text delta as a
  think block (or, with no message next, into a message item of ours in their place).

Every `….done` event and the final `response.output` carry the text the client got in deltas.
Items are renumbered in the order the client gets them, and sequence numbers count on without
gaps from the first upstream number. Events of other shapes pass as they came (renumbered).

The rewriter is `responses_stream.ResponsesRewriter` (strip mode, and what all modes share)
with the hooks of `responses_modes` (reasoning, inline); the items it builds and its record of
the upstream's are in `responses_items`; `responses_output` rewrites a whole output list (the
buffered answer, and the stream's final `response.output`).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from cot_proxy.formats._api import FAILURE_CODE
from cot_proxy.formats._api import Framing
from cot_proxy.formats._api import NewFilter
from cot_proxy.formats.responses_modes import InlineRewriter
from cot_proxy.formats.responses_modes import ReasoningRewriter
from cot_proxy.formats.responses_output import filter_body as filter_body
from cot_proxy.formats.responses_request import append_suffix as append_suffix
from cot_proxy.formats.responses_request import error_body as error_body
from cot_proxy.formats.responses_request import rewrite_history as rewrite_history
from cot_proxy.formats.responses_stream import ResponsesRewriter
from cot_proxy.think import ThinkConfig

if TYPE_CHECKING:
    from cot_proxy.rules import ModelRule

name = "responses"
framing: Framing = "sse"
done_payload: bytes | None = None  # response.completed and the like: the rewriter finds them


def failure(message: str) -> dict[str, Any]:
    """The Responses `error` event (`ResponseErrorEvent`: code, message, param), with the same
    under `error` as OpenAI's API sends it mid-stream: openai-python raises `APIError` on an
    event whose data has an `error` (`Stream.__stream__`), and so does `responses.stream()`."""
    error = {"type": "server_error", "code": FAILURE_CODE, "message": message, "param": None}
    return {
        "type": "error",
        "code": FAILURE_CODE,
        "message": message,
        "param": None,
        "error": error,
    }


def rewriter(config: ThinkConfig, new_filter: NewFilter) -> ResponsesRewriter:
    if config.mode == "reasoning":
        return ReasoningRewriter(config, new_filter)
    if config.mode == "inline":
        return InlineRewriter(config, new_filter)
    return ResponsesRewriter(config, new_filter)


def rule_for(
    model: str, rule: ModelRule | None, match: Callable[[str], ModelRule | None]
) -> ModelRule | None:
    return rule
