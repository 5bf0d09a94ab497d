"""OpenAI's chat and completions, the request side: the suffix, the history, the error shape
and the model list (`GET …/models`).

- Suffix: chat's last user message (or the `prompt` of a chat-path body without `messages`);
  completions' `prompt`.
- History: the reasoning fields and think blocks of assistant messages, removed, moved to the
  reasoning field (`to_field`: `reasoning_field`; reasoning_content with "both") or into the
  content (`to_inline`: a string, or its first text part); a turn calls tools when it has
  `tool_calls` (`cot_proxy.history.chat_history`).
- Errors: OpenAI's shape (`cot_proxy.apierror.error_body`).

Chat's request side is also what a JSON body of a path of no known format gets. Stdlib only,
no mitmproxy import.
"""

from __future__ import annotations

import copy
from typing import Any

from cot_proxy import history
from cot_proxy.suffix import append_to_chat
from cot_proxy.suffix import append_to_prompt


def append_suffix(body: dict[str, Any], suffix: str, *, prompt: bool) -> str | None:
    """`prompt`: completions, whose user text is its `prompt`."""
    return append_to_prompt(body, suffix) if prompt else append_to_chat(body, suffix)


def rewrite_history(body: dict[str, Any], treatment: history.History) -> list[str]:
    field = treatment.splitter.reasoning_field
    field = "reasoning_content" if field == "both" else field
    return history.chat_history(body.get("messages"), treatment, field)


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
