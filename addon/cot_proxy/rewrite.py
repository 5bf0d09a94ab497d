"""Applying a ModelRule to a request body.

Every endpoint gets the same rule keys: `drop`, `defaults`, `params` (dotted keys and nested
dicts reach into any object, Ollama's `options` too) and `upstream_model_name` work on any JSON
body; where the suffix goes and what the history treatment touches are the format's to say
(`RequestSide.append_suffix`, `.rewrite_history`). Pure logic on plain JSON values, no
mitmproxy import.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cot_proxy.formats import choices
from cot_proxy.formats._api import EndpointFormat
from cot_proxy.history import History
from cot_proxy.rules import ModelRule
from cot_proxy.rules import show_value
from cot_proxy.think import ThinkConfig

_MISSING = object()


def rewrite_request(
    body: dict[str, Any],
    rule: ModelRule,
    think: ThinkConfig | None = None,
    fmt: EndpointFormat | None = None,
    history: History | None = None,
) -> list[str]:
    """Apply `rule` to the request JSON `body` in place; return what changed, for the log.

    `fmt` (the flow's, `cot_proxy.formats.registry.format_of`; None: a path of no known format,
    read as chat) says where the suffix and the history are. `think` is the request's think settings,
    which say what a think block is; `history` the request's treatment of the assistant turns
    the client sends back (`cot_proxy.history`; None: the rule's `history` and
    `history_turns` alone, as `history_presets.history_for` makes it with no preset).

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
    request = fmt if fmt is not None else choices.chat
    if rule.append_to_last_user_message:
        if change := request.append_suffix(body, rule.append_to_last_user_message):
            changes.append(change)
    if history is None and think is not None:
        history = History.of(think, rule.history_mode, rule.history_turns or "all")
    if history is not None and history.touches:
        changes += request.rewrite_history(body, history)
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
