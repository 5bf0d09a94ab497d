"""The rule key `append_to_last_user_message`: the shared walking of where a suffix goes.

Where the user's last words are is the format's to say (`Format.append_suffix`, each family's
`formats/*_request.py`); the shapes several share are here:
- chat, Anthropic Messages, Ollama chat: the last of `messages`, when it is the user's (its string
  content, or its last text part/block); otherwise a new user message is added
  (`append_to_messages`);
- legacy completions: `prompt`, a string or a list of them (`append_to_prompt`).
A suffix the text already ends with is not appended again (a client retry, or a client that
adds it itself). Pure logic on plain JSON values, no mitmproxy import.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def append_to_chat(body: dict[str, Any], suffix: str) -> str | None:
    """Chat, and JSON bodies of paths of no known format: the last user message, or the
    `prompt` of a body that has one and no `messages`."""
    if "messages" not in body and "prompt" in body:
        return append_to_prompt(body, suffix)
    return append_to_messages(body.get("messages"), suffix, text_type="text")


def append_to_messages(messages: object, suffix: str, *, text_type: str) -> str | None:
    if not isinstance(messages, list):
        logger.debug("suffix not appended: messages is %s", type(messages).__name__)
        return None
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "user":
        return append_to_content(last, suffix, text_type)
    # A standalone message has no text to be separated from: drop the leading newlines.
    if not suffix.strip():
        return None
    messages.append({"role": "user", "content": suffix.lstrip()})
    return "appended suffix as a new user message"


def append_to_content(message: dict[str, Any], suffix: str, text_type: str) -> str | None:
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


def append_to_prompt(body: dict[str, Any], suffix: str) -> str | None:
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
