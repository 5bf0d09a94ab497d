"""Wire formats: one `Format` per endpoint that answers with text, each family's request side
beside it, and the registry of endpoints (`registry`), the one place that maps paths to them.

A format knows the shape of one API's JSON and nothing else (`cot_proxy.formats._api`): the
conductor (`cot_proxy.stream.FilterStream`) and the body path (`cot_proxy.body`) ask it for the
rewriter of a stream and to rewrite a buffered answer; the request rules ask it where a suffix
goes and what the history holds. A channel is one independent text stream of an answer: a
choice in OpenAI's chat and completions; a content block or an output item in other APIs.
Families: `choices` (chat and completions, one `ChoiceShape` each), `messages`, `responses`,
`ollama` (one `OllamaFormat` per endpoint); each has a `*_request` module for its request side.

The names below are the registry's, for importers of the package; a format's own modules
import `_api`, never the package. Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

from cot_proxy.formats._api import Format
from cot_proxy.formats.choices import chat
from cot_proxy.formats.choices import completions
from cot_proxy.formats.choices_stream import WireFormat
from cot_proxy.formats.registry import EVENT_FORMATS
from cot_proxy.formats.registry import FORMATS
from cot_proxy.formats.registry import Endpoint
from cot_proxy.formats.registry import endpoint_ending
from cot_proxy.formats.registry import endpoint_of
from cot_proxy.formats.registry import event_format_for
from cot_proxy.formats.registry import format_for
from cot_proxy.formats.registry import format_of

__all__ = [
    "EVENT_FORMATS",
    "FORMATS",
    "Endpoint",
    "Format",
    "WireFormat",
    "chat",
    "completions",
    "endpoint_ending",
    "endpoint_of",
    "event_format_for",
    "format_for",
    "format_of",
]
