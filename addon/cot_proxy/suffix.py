"""The rule key `append_to_last_user_message`: a suffix added to the last user message, per format.

Where the user's last words are, by endpoint (`cot_proxy.formats.endpoint_of`):
- chat, Anthropic Messages, Ollama chat: the last of `messages`, when it is the user's (its string
  content, or its last text part/block); otherwise a new user message is added;
- OpenAI Responses: `input` as a string, or the last input item when it is a user message (its
  string content or its last `input_text` part); otherwise a new user message item;
- legacy completions and Ollama generate: `prompt`.
A suffix the text already ends with is not appended again (a client retry, or a client that
adds it itself). Pure logic on plain JSON values, no mitmproxy import.
"""

from __future__ import annotations

import logging
from typing import Any
from typing import TypeGuard

logger = logging.getLogger(__name__)


def append_suffix(body: dict[str, Any], suffix: str, endpoint: str | None) -> str | None:
    """Append `suffix` where `endpoint`'s last user text is; what changed, for the log."""
    if endpoint == "responses":
        return _append_to_input(body, suffix)
    if endpoint == "ollama_generate":
        return _append_to_ollama_prompt(body, suffix)
    if endpoint == "ollama_chat" and body.get("messages") == []:
        # Ollama's "load the model" request: a message would turn it into a generation.
        return None
    if endpoint == "completions" or ("messages" not in body and "prompt" in body):
        return _append_to_prompt(body, suffix)
    # chat, messages, ollama_chat, and JSON bodies of other paths that look like chat
    return _append_to_messages(body.get("messages"), suffix, text_type="text")


def _append_to_messages(messages: object, suffix: str, *, text_type: str) -> str | None:
    if not isinstance(messages, list):
        logger.debug("suffix not appended: messages is %s", type(messages).__name__)
        return None
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "user":
        return _append_to_content(last, suffix, text_type)
    # A standalone message has no text to be separated from: drop the leading newlines.
    if not suffix.strip():
        return None
    messages.append({"role": "user", "content": suffix.lstrip()})
    return "appended suffix as a new user message"


def _append_to_content(message: dict[str, Any], suffix: str, text_type: str) -> str | None:
    """The user message's text: a string, or the last part of `text_type` of a list."""
    content = message.get("content")
    if content is None:
        message["content"] = suffix.lstrip()
        return "appended suffix"
    if isinstance(content, str):
        if content.endswith(suffix):
            return None
        message["content"] = content + suffix
        return "appended suffix"
    if isinstance(content, list):
        for part in reversed(content):
            if (
                isinstance(part, dict)
                and part.get("type") == text_type
                and isinstance(part.get("text"), str)
            ):
                if part["text"].endswith(suffix):
                    return None
                part["text"] += suffix
                return "appended suffix"
        if not suffix.strip():
            return None
        content.append({"type": text_type, "text": suffix.lstrip()})
        return "appended suffix as a new text part"
    logger.debug("suffix not appended: last user message content is %s", type(content).__name__)
    return None


def _append_to_input(body: dict[str, Any], suffix: str) -> str | None:
    """Responses: `input` is a string (one user message) or a list of input items."""
    items = body.get("input")
    if isinstance(items, str):
        if items.endswith(suffix):
            return None
        body["input"] = items + suffix
        return "appended suffix to input"
    if not isinstance(items, list):
        # No input at all (previous_response_id alone, say): nothing of the user's to extend.
        logger.debug("suffix not appended: input is %s", type(items).__name__)
        return None
    last = items[-1] if items else None
    if is_input_message(last, "user"):
        return _append_to_content(last, suffix, "input_text")
    if not suffix.strip():
        return None
    # After a function_call_output, an assistant message, ...: a user message of its own.
    items.append({"type": "message", "role": "user", "content": suffix.lstrip()})
    return "appended suffix as a new user message"


def is_input_message(item: object, role: str) -> TypeGuard[dict[str, Any]]:
    """Whether a Responses input item is a message of `role` ("type" may be left out)."""
    return (
        isinstance(item, dict)
        and item.get("role") == role
        and item.get("type", "message") == "message"
    )


def _append_to_prompt(body: dict[str, Any], suffix: str) -> str | None:
    """Legacy completions: the prompt is a string or a list of them (one completion each).
    Token-id prompts (lists of ints) are left alone: a suffix cannot be spelled in tokens here."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        if prompt.endswith(suffix):
            return None
        body["prompt"] = prompt + suffix
        return "appended suffix to prompt"
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        count = sum(not p.endswith(suffix) for p in prompt)
        if not count:
            return None
        body["prompt"] = [p if p.endswith(suffix) else p + suffix for p in prompt]
        return f"appended suffix to {count} prompt(s)"
    logger.debug("suffix not appended: prompt is %s", type(prompt).__name__)
    return None


def _append_to_ollama_prompt(body: dict[str, Any], suffix: str) -> str | None:
    """Ollama generate: `prompt` is one string; `system` is not the user's and stays."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        # No prompt, or "": Ollama's load/unload request, which must not start a generation.
        logger.debug("suffix not appended: no Ollama prompt to extend")
        return None
    if body.get("raw") is True:
        # A raw prompt is already templated: its end is the assistant's turn, not the user's.
        logger.debug("suffix not appended: raw Ollama prompt")
        return None
    if prompt.endswith(suffix):
        return None
    body["prompt"] = prompt + suffix
    return "appended suffix to prompt"
