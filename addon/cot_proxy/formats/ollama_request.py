"""Ollama's native API, the request side: the suffix, the history, the error shape, the
`:latest` name of a model and the model list (`GET …/api/tags`).

- Suffix: /api/chat's last user message (not in the "load the model" request, `messages: []`);
  /api/generate's `prompt` (not `system`, not a raw or empty prompt).
- History: /api/chat's assistant messages keep reasoning in `thinking`, Ollama's own field,
  whatever the configured `reasoning_field`.
- Errors: `{"error": message}`; its client raises ResponseError with it.
- Names: Ollama reads `qwen3` as `qwen3:latest` (its ParseName default).

Stdlib only, no mitmproxy import.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from cot_proxy import history
from cot_proxy.suffix import append_to_messages

if TYPE_CHECKING:
    from cot_proxy.rules import ModelRule

logger = logging.getLogger(__name__)

# Ollama's name for a model without a tag: `qwen3` is `qwen3:latest` (its ParseName default).
OLLAMA_DEFAULT_TAG = "latest"

THINKING = "thinking"


def append_to_chat(body: dict[str, Any], suffix: str) -> str | None:
    if body.get("messages") == []:
        # Ollama's "load the model" request: a message would turn it into a generation.
        return None
    return append_to_messages(body.get("messages"), suffix, text_type="text")


def append_to_prompt(body: dict[str, Any], suffix: str) -> str | None:
    """/api/generate: `prompt` is one string; `system` is not the user's and stays."""
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


def rewrite_history(body: dict[str, Any], treatment: history.History, *, chat: bool) -> list[str]:
    """`chat`: /api/chat, whose messages keep reasoning in `thinking`; /api/generate has no
    history of its own, and a `messages` list sent to it is read as chat's."""
    field = treatment.splitter.reasoning_field if not chat else THINKING
    if field == "both":
        field = "reasoning_content"
    return history.chat_history(body.get("messages"), treatment, field)


def error_body(message: str, type: str, code: str) -> bytes:
    """`{"error": message}`; the code rides along."""
    return json.dumps({"error": message, "code": code}).encode()


def rule_for(
    model: str, rule: ModelRule | None, match: Callable[[str], ModelRule | None]
) -> ModelRule | None:
    """A request for `NAME:latest` that no rule names exactly gets the rule of `NAME` (an
    exact one still beats a glob)."""
    name, _, tag = model.rpartition(":")
    if tag != OLLAMA_DEFAULT_TAG or not name or (rule is not None and not rule.is_glob):
        return rule
    bare = match(name)
    if bare is None or (rule is not None and bare.is_glob):
        return rule
    return bare


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
