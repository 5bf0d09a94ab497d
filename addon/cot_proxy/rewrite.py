"""Applying a ModelRule to a request body, and adding pseudo models to the model lists.

Every endpoint gets the same rule keys: `drop`, `defaults`, `params` (dotted keys and nested
dicts reach into any object, Ollama's `options` too) and `upstream_model_name` work on any JSON
body; where the suffix goes (`cot_proxy.suffix`) and what the history treatment touches
(`cot_proxy.history`) depend on the format. Model lists: `GET …/models` (OpenAI's) and
`GET …/api/tags` (Ollama's). Pure logic on plain JSON values, no mitmproxy import.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cot_proxy.history import rewrite_history
from cot_proxy.rules import ModelRule
from cot_proxy.rules import show_value
from cot_proxy.suffix import append_suffix
from cot_proxy.think import ThinkConfig

_MISSING = object()


def rewrite_request(
    body: dict[str, Any],
    rule: ModelRule,
    think: ThinkConfig | None = None,
    endpoint: str | None = None,
) -> list[str]:
    """Apply `rule` to the request JSON `body` in place; return what changed, for the log.

    `endpoint` (`cot_proxy.formats.endpoint_of`; None: a path of no known format, read as chat)
    says where the suffix and the history are. `think` is the request's think settings: with
    history strip (or strip_think_from_history), the think blocks they define and the reasoning
    are removed from the assistant messages the client sends back; with history to_field, the
    blocks move to where the format keeps reasoning.

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
        if change := append_suffix(body, rule.append_to_last_user_message, endpoint):
            changes.append(change)
    history = rule.history_mode
    if history != "keep" and think is not None:
        changes += rewrite_history(body, think, endpoint, to_field=history == "to_field")
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


# Ollama's name for a model without a tag: `qwen3` is `qwen3:latest` (its ParseName default).
OLLAMA_DEFAULT_TAG = "latest"


def ollama_full_name(name: str) -> str:
    """`name` with Ollama's default tag when it has none (`qwen3` → `qwen3:latest`)."""
    # A tag follows the last ":" of the last path part (`host:port/ns/model` has a port).
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:{OLLAMA_DEFAULT_TAG}"


def merge_ollama_tags(
    upstream: object, pseudo_models: list[tuple[str, str]]
) -> dict[str, Any] | None:
    """Ollama's `GET /api/tags` JSON plus one entry per pseudo model name.

    Names compare as Ollama reads them, with the default tag: a rule's upstream `qwen3` finds
    the listed `qwen3:latest`, and a pseudo name already listed (with or without `:latest`)
    is not added again. A pseudo entry copies the entry of the model it maps to (`name` and
    `model` replaced by the pseudo name as the rule spells it, which is what clients send
    back), or is a minimal entry of Ollama's shape (api.ListModelResponse) when that model
    isn't listed. Returns None when `upstream` isn't `{"models": [...], ...}`.
    """
    if not isinstance(upstream, dict) or not isinstance(upstream.get("models"), list):
        return None
    models: list[Any] = list(upstream["models"])
    by_name: dict[str, Any] = {}
    for entry in reversed(models):  # reversed: on duplicate names the first entry is the template
        if isinstance(entry, dict):
            for key in ("model", "name"):
                if isinstance(entry.get(key), str):
                    by_name[ollama_full_name(entry[key])] = entry
    listed = set(by_name)
    for pseudo, target in pseudo_models:
        if ollama_full_name(pseudo) in listed:
            continue
        listed.add(ollama_full_name(pseudo))
        template = by_name.get(ollama_full_name(target))
        entry = copy.deepcopy(template) if template is not None else _minimal_tag(pseudo)
        entry["name"] = entry["model"] = pseudo
        models.append(entry)
    return {**upstream, "models": models}


def _minimal_tag(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": "1970-01-01T00:00:00Z",  # Go's time.Time wants a timestamp
        "size": 0,
        "digest": "",
        "details": {
            "parent_model": "",
            "format": "",
            "family": "",
            "families": None,
            "parameter_size": "",
            "quantization_level": "",
        },
    }
