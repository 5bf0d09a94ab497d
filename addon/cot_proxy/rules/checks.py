"""Leaf validators and display helpers shared by the LLM_PARAMS and config.yaml grammars.

Pure logic, no mitmproxy import. Imports nothing else of the package, so every other module
of `cot_proxy.rules` can use it.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable
from collections.abc import Container
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

CLIP = 60


class ConfigError(ValueError):
    """A configuration problem, described in one human line (no traceback needed)."""


class Invalid(Exception):
    """A problem inside one group/rule; the caller prefixes it with where it happened."""


def check_key(key: object) -> list[str]:
    """A (possibly dotted) request field name, split into its parts."""
    if not isinstance(key, str):
        raise Invalid(f"key {key!r} must be a string")
    if key == "":
        raise Invalid("empty key")
    parts = key.split(".")
    if any(p == "" for p in parts):
        raise Invalid(f"key {key!r} has an empty part")
    if any(c.isspace() or c in '"[]{}' for c in key):
        raise Invalid(f"key {key!r} contains whitespace, quotes or brackets")
    return parts


def assign(target: dict[str, Any], key: str, value: Any, *, reserved: Container[str]) -> None:
    """target[a][b]... = value for key "a.b...", refusing to silently overwrite anything.

    `reserved` are the rule settings (passed in, so that this module stays a leaf): they and
    `model` can't be request fields.
    """
    parts = check_key(key)
    if parts[0] in reserved or parts[0] == "model":
        what = "set by model/upstream_model_name" if parts[0] == "model" else "a rule setting"
        where = "" if key == parts[0] else f"{key!r}: "
        raise Invalid(f"{where}{parts[0]!r} is {what}, not a request field")
    node = target
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise Invalid(f"key {key!r} conflicts with {'.'.join(parts[: i + 1])!r}")
        node = child
    if parts[-1] in node:
        raise Invalid(f"duplicate key {key!r}")
    node[parts[-1]] = value


def unknown_key(key: object, hint: str | None, otherwise: str = "") -> Invalid:
    """The error for a key not allowed here: "unknown key 'think_mod' (did you mean
    'think_mode'?)", or with `otherwise` when there is no `hint`."""
    advice = f"did you mean {hint!r}?" if hint else otherwise
    return Invalid(f"unknown key {key!r} ({advice})")


def close_key(key: object, allowed: Sequence[str]) -> str | None:
    """The key of `allowed` most like `key` (difflib's sense), if any is much like it."""
    hint = difflib.get_close_matches(str(key), allowed, n=1)
    return hint[0] if hint else None


def near_miss(key: str, allowed: Sequence[str], max_edits: int = 2) -> str | None:
    """The key of `allowed` that `key` is a slip of: the nearest within `max_edits` single-
    character insertions, deletions or substitutions, but not `key` itself."""
    nearest = min(allowed, key=lambda name: _edits(key, name), default=None)
    if nearest is None or nearest == key or _edits(key, nearest) > max_edits:
        return None
    return nearest


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (the keys are short: the plain table is fast enough)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def want_str(key: str, value: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (value == "" and not empty_ok):
        what = "a string" if empty_ok else "a non-empty string"
        raise Invalid(f"{key} must be {what}, got {kind(value)}")
    return value


def want_bool(key: str, value: Any, *, lenient: bool) -> bool:
    # LLM_PARAMS users wrote True/FALSE with the previous generation; accept any case there.
    if lenient and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise Invalid(f"{key} must be true or false, got {kind(value)}")
    return value


def want_tags(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    problem = f"{key} must be a non-empty list of [start, end] pairs of non-empty strings"
    if not isinstance(value, list | tuple) or not value:
        raise Invalid(f"{problem}, got {kind(value)}")
    pairs = []
    for pair in value:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(t, str) and t for t in pair)
        ):
            raise Invalid(f"{problem}, got item {clip(repr(pair))}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def want_str_list(key: str, value: Any) -> tuple[str, ...]:
    """A list of non-empty strings; an empty list is a value too ("none")."""
    problem = f"{key} must be a list of non-empty strings"
    if not isinstance(value, list | tuple):
        raise Invalid(f"{problem}, got {kind(value)}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise Invalid(f"{problem}, got item {clip(repr(item))}")
    return tuple(value)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: `base` with `over` on top, dicts merged recursively, `over` winning."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def kind(value: Any) -> str:
    """What `value` is, for "must be X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"string {clip(repr(value))}"
    if isinstance(value, int | float):
        return f"number {value}"
    return {"list": "a list", "dict": "a mapping"}.get(type(value).__name__, type(value).__name__)


def clip(text: str, limit: int = CLIP) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_value(value: Any) -> str:
    """A JSON value as compact JSON (one line, clipped) for log lines."""
    return clip(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def flatten(fields: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, leaf value) pairs of a nested dict; an empty dict is a leaf."""
    for key, value in fields.items():
        if isinstance(value, dict) and value:
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def one_of(*choices: str) -> Callable[[str, Any, bool], str]:
    """The check of a rule setting that takes one of `choices` (key, value, lenient)."""

    def check(key: str, value: Any, lenient: bool) -> str:
        if value not in choices:
            raise Invalid(f"unknown {key} {clip(repr(value))} (use {'|'.join(choices)})")
        return str(value)

    return check
