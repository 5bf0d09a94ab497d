"""Applying a ModelRule to a request body, and adding pseudo models to `GET /v1/models`.

Pure logic on plain JSON values, no mitmproxy import.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from cot_proxy.rules import ModelRule
from cot_proxy.rules import show_value
from cot_proxy.think import ThinkConfig
from cot_proxy.think import remove_think_blocks

logger = logging.getLogger(__name__)

_MISSING = object()


def rewrite_request(
    body: dict[str, Any],
    rule: ModelRule,
    think: ThinkConfig | None = None,
) -> list[str]:
    """Apply `rule` to the request JSON `body` in place; return what changed, for the log.

    `think` is the request's think settings: with history strip (or strip_think_from_history),
    the think blocks they define and the reasoning fields are removed from the assistant
    messages the client sends back; with history to_field, both go to its reasoning field.

    Order: drop, defaults, forced params, model rename, suffix, history. Forced params come
    after drop and defaults so that they always win; the rename comes after the params so a
    (nonsensical) forced `model` can't undo it.
    """
    if not isinstance(body, dict):
        return []
    changes: list[str] = []
    for path in rule.drop:
        if _drop(body, path):
            changes.append(f"dropped {path}")
    _fill_defaults(body, rule.defaults, "", changes)
    _force(body, rule.params, "", changes)
    upstream = rule.upstream_model_name
    if upstream is not None and body.get("model") != upstream:
        body["model"] = upstream
        changes.append(f"model→{upstream}")
    if rule.append_to_last_user_message:
        if change := _append_suffix(body, rule.append_to_last_user_message):
            changes.append(change)
    history = rule.history_mode
    if history != "keep" and think is not None:
        if count := _rewrite_history(body, think, to_field=history == "to_field"):
            done = "moved to the reasoning field in" if history == "to_field" else "removed from"
            changes.append(f"history: think {done} {count} assistant message(s)")
    return changes


def _drop(body: dict[str, Any], path: str) -> bool:
    """Delete the (dotted) field `path`; False when it wasn't there."""
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    return False


def _fill_defaults(
    target: dict[str, Any], defaults: Mapping[str, Any], prefix: str, changes: list[str]
) -> None:
    """Set what the client did not send. An explicit null counts as not sent: it asks for
    the server's default, and the rule's default is the one we want."""
    for key, value in defaults.items():
        current = target.get(key)
        if current is None:
            target[key] = copy.deepcopy(value)
            changes.append(f"default {prefix}{key}={show_value(value)}")
        elif isinstance(current, dict) and isinstance(value, dict):
            _fill_defaults(current, value, f"{prefix}{key}.", changes)


def _force(
    target: dict[str, Any], params: Mapping[str, Any], prefix: str, changes: list[str]
) -> None:
    """Write `params` over the client's values, merging dicts (chat_template_kwargs...)."""
    for key, value in params.items():
        current = target.get(key, _MISSING)
        if isinstance(value, dict) and (value or isinstance(current, dict)):
            # Recurse even into a fresh dict so the log names each leaf that was set.
            if not isinstance(current, dict):
                current = target[key] = {}
            _force(current, value, f"{prefix}{key}.", changes)
            continue
        # Compare types too: 1 == 1.0 == True, but the server may see them differently.
        if current is _MISSING or current != value or type(current) is not type(value):
            changes.append(f"{prefix}{key}={show_value(value)}")
        target[key] = copy.deepcopy(value)  # never share the rule's objects with a request


def _append_suffix(body: dict[str, Any], suffix: str) -> str | None:
    messages = body.get("messages")
    if "messages" not in body and "prompt" in body:
        return _append_to_prompt(body, suffix)  # /v1/completions
    if not isinstance(messages, list):
        return None
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        # A standalone message has no text to be separated from: drop the leading newlines.
        if not suffix.strip():
            return None
        messages.append({"role": "user", "content": suffix.lstrip()})
        return "appended suffix as a new user message"
    content = last.get("content")
    if content is None:
        last["content"] = suffix.lstrip()
        return "appended suffix"
    if isinstance(content, str):
        if content.endswith(suffix):
            return None  # already there (client retry, or the client added it itself)
        last["content"] = content + suffix
        return "appended suffix"
    if isinstance(content, list):
        for part in reversed(content):
            if (
                isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ):
                if part["text"].endswith(suffix):
                    return None
                part["text"] += suffix
                return "appended suffix"
        if not suffix.strip():
            return None
        content.append({"type": "text", "text": suffix.lstrip()})
        return "appended suffix as a new text part"
    logger.debug("suffix not appended: last user message content is %s", type(content).__name__)
    return None


def _append_to_prompt(body: dict[str, Any], suffix: str) -> str | None:
    """Legacy completions: the prompt is a string or a list of them (one completion each).
    Token-id prompts (lists of ints) are left alone: a suffix cannot be spelled in tokens here."""
    prompt = body["prompt"]
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


# Where clients send reasoning back in assistant messages (vLLM, DeepSeek, Ollama/Anthropic-style).
HISTORY_REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning", "thinking")


def _rewrite_history(body: dict[str, Any], think: ThinkConfig, *, to_field: bool) -> int:
    """Remove think blocks and reasoning fields from the assistant messages the client sends
    back, or (`to_field`) move both into the reasoning field; returns how many messages
    changed."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    # Split the blocks off in reasoning mode, so their text can move; end markers stay put.
    splitter = dataclasses.replace(think, mode="reasoning")
    field = "reasoning_content" if think.reasoning_field == "both" else think.reasoning_field

    keys = tuple(dict.fromkeys((field, *HISTORY_REASONING_FIELDS)))
    changed = 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        before = {key: message[key] for key in keys if key in message}
        moved: list[str] = []  # reasoning of this message, in order, for to_field
        for key in keys:
            value = message.pop(key, None)
            if isinstance(value, str) and value and value not in moved:
                moved.append(value)
        content_changed = False
        content = message.get("content")
        texts: list[tuple[Any, Any]] = []  # (container, key) of each text
        if isinstance(content, str):
            texts.append((message, "content"))
        elif isinstance(content, list):
            for part in content:
                if (
                    isinstance(part, dict)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    texts.append((part, "text"))
        for container, key in texts:
            answer, thought = remove_think_blocks(container[key], splitter)
            if answer != container[key]:
                container[key] = answer
                moved.append(thought)
                content_changed = True
        if to_field and "".join(moved):
            message[field] = "".join(moved)
        after = {key: message[key] for key in keys if key in message}
        changed += content_changed or before != after
    return changed


def merge_models_list(
    upstream: object, pseudo_models: list[tuple[str, str]]
) -> dict[str, Any] | None:
    """The upstream `GET /v1/models` JSON plus one entry per pseudo model name.

    A pseudo entry copies the upstream entry of the model it maps to (id replaced), or is a
    minimal entry when that model isn't listed. Names already listed are not added again.
    Returns None when `upstream` isn't `{"data": [...], ...}` (pass it through unchanged).
    """
    if not isinstance(upstream, dict) or not isinstance(upstream.get("data"), list):
        return None
    data: list[Any] = list(upstream["data"])
    # reversed: on duplicate ids the first entry is the template
    by_id = {
        e["id"]: e for e in reversed(data) if isinstance(e, dict) and isinstance(e.get("id"), str)
    }
    listed = set(by_id)
    for pseudo, target in pseudo_models:
        if pseudo in listed:
            continue
        listed.add(pseudo)
        template = by_id.get(target)
        if template is not None:
            entry = copy.deepcopy(template)
            entry["id"] = pseudo
        else:
            entry = {"id": pseudo, "object": "model", "created": 0, "owned_by": "cot-proxy"}
        data.append(entry)
    return {**upstream, "data": data}
