"""The request rules as the request rules part applies them, for the request-side tests of
each format family (`formats/*_request.py`)."""

from cot_proxy.formats.registry import format_of
from cot_proxy.rewrite import rewrite_request as rewrite_with_format
from cot_proxy.rules import ModelRule
from cot_proxy.think import ThinkConfig


def rewrite_request(body, rule, think=None, endpoint=None):
    """The rule applied as the request rules do: with the format of the request's endpoint."""
    return rewrite_with_format(body, rule, think, format_of(endpoint))


THINK = ThinkConfig()
SUFFIX = "\n\n/no_think"
ENDPOINTS = [
    "chat",
    "completions",
    "responses",
    "messages",
    "ollama_chat",
    "ollama_generate",
    None,
]


def suffix_rule():
    return ModelRule("m", append_to_last_user_message=SUFFIX)


def strip_rule():
    return ModelRule("m", history="strip")


def to_field_rule():
    return ModelRule("m", history="to_field")


def output_text(text):
    return {"type": "output_text", "text": text, "annotations": []}


def assistant_item(*parts, **fields):
    return {
        "type": "message",
        "role": "assistant",
        "id": "msg_1",
        "status": "completed",
        "content": list(parts),
        **fields,
    }
