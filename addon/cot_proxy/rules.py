"""Per-model request rules: parsing LLM_PARAMS and config.yaml, merging them, matching a model.

Pure logic, no mitmproxy import. The addon builds one `RuleSet` at startup from
`merge_rules(parse_llm_params(env), load_config_file(path))` and, per request, applies
`RuleSet.match(model)` with `cot_proxy.rewrite.rewrite_request`.

Precedence (documented in config.yaml too):
- The environment wins over the file: for the same `model` pattern the two rules are merged
  key by key, env winning (params/defaults deep-merged, drop lists united).
- Matching: an exact name beats any glob; among globs the first listed wins, env rules
  before file rules. `model=default` applies only when the request names no model.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import fnmatch
import json
import logging
import math
import os
import re
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.error import YAMLError

from cot_proxy.think import THINK_MODES
from cot_proxy.think import ThinkConfig

log = logging.getLogger(__name__)

DEFAULT_PATTERN = "default"
GLOB_CHARS = frozenset("*?[")

# Rule settings understood by the proxy itself; never sent upstream. The first eight are the
# previous generation's LLM_PARAMS keys; think_tags and strip_think_from_history are reserved
# in LLM_PARAMS too so that they can never leak upstream as request fields by mistake.
RESERVED_KEYS: tuple[str, ...] = (
    "think_tag_start",
    "think_tag_end",
    "think_mode",
    "enable_think_tag_filtering",
    "think_implicit_start",
    "reasoning_field",
    "upstream_model_name",
    "append_to_last_user_message",
    "think_tags",
    "strip_think_from_history",
)
# Keys of one config.yaml rule besides the reserved ones.
_YAML_STRUCTURE_KEYS: tuple[str, ...] = ("model", "params", "defaults", "drop")
_YAML_RULE_KEYS: tuple[str, ...] = _YAML_STRUCTURE_KEYS + RESERVED_KEYS
_YAML_TOP_KEYS: tuple[str, ...] = ("models",)

_CLIP = 60
_MAX_DEPTH = 64


class ConfigError(ValueError):
    """A configuration problem, described in one human line (no traceback needed)."""


class _Invalid(Exception):
    """A problem inside one group/rule; the caller prefixes it with where it happened."""


@dataclasses.dataclass(frozen=True)
class ModelRule:
    """What to do with requests for the models matching `pattern`.

    None means "not set by this rule" (the global default applies). `params` and `defaults`
    are nested dicts (dotted keys already expanded); treat them as read-only.
    """

    pattern: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    drop: tuple[str, ...] = ()
    think_mode: str | None = None
    think_tags: tuple[tuple[str, str], ...] | None = None
    # LLM_PARAMS-style single tags: they replace the start/end of the first pair.
    think_tag_start: str | None = None
    think_tag_end: str | None = None
    think_implicit_start: bool | None = None
    reasoning_field: str | None = None
    upstream_model_name: str | None = None
    append_to_last_user_message: str | None = None
    strip_think_from_history: bool | None = None
    source: str = ""

    @property
    def is_glob(self) -> bool:
        return is_glob(self.pattern)

    def think_config(self, base: ThinkConfig) -> ThinkConfig:
        """`base` (the global settings) overlaid with what this rule sets."""
        tags = self.think_tags if self.think_tags is not None else base.tags
        if self.think_tag_start is not None or self.think_tag_end is not None:
            start, end = tags[0] if tags else ThinkConfig().tags[0]
            first = (self.think_tag_start or start, self.think_tag_end or end)
            tags = (first, *tags[1:])
        mode: Any = self.think_mode if self.think_mode is not None else base.mode
        return dataclasses.replace(
            base,
            mode=mode,
            tags=tuple(tags),
            implicit_start=(
                self.think_implicit_start
                if self.think_implicit_start is not None
                else base.implicit_start
            ),
            reasoning_field=self.reasoning_field or base.reasoning_field,
        )

    def describe(self) -> str:
        """One compact line for the startup log."""
        items = [f"{k}={show_value(v)}" for k, v in _flatten(self.params)]
        items += [f"default {k}={show_value(v)}" for k, v in _flatten(self.defaults)]
        items += [f"drop {k}" for k in self.drop]
        if self.think_mode is not None:
            items.append(f"think_mode={self.think_mode}")
        if self.think_tags is not None:
            items.append("think_tags=" + " ".join(f"{s}…{e}" for s, e in self.think_tags))
        for name in ("think_tag_start", "think_tag_end", "reasoning_field", "upstream_model_name"):
            value = getattr(self, name)
            if value is not None:
                items.append(f"{name}={_clip(value)}")
        for name in ("think_implicit_start", "strip_think_from_history"):
            value = getattr(self, name)
            if value is not None:
                items.append(f"{name}={show_value(value)}")
        if self.append_to_last_user_message is not None:
            suffix = show_value(self.append_to_last_user_message)
            items.append(f"append_to_last_user_message={suffix}")
        where = f" [{self.source}]" if self.source else ""
        return f"{self.pattern}{where}: " + (", ".join(items) if items else "(no changes)")


def is_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)


class RuleSet:
    """The effective rules, in priority order (env rules first, then file rules)."""

    def __init__(self, rules: Iterable[ModelRule]) -> None:
        self.rules: tuple[ModelRule, ...] = tuple(rules)
        self._default: ModelRule | None = None
        self._exact: dict[str, ModelRule] = {}
        self._globs: list[ModelRule] = []
        for rule in self.rules:  # on duplicates, the first rule wins everywhere
            if rule.pattern == DEFAULT_PATTERN:
                self._default = self._default or rule
            elif rule.is_glob:
                self._globs.append(rule)
            else:
                self._exact.setdefault(rule.pattern, rule)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[ModelRule]:
        return iter(self.rules)

    def match(self, model: str | None) -> ModelRule | None:
        """The rule for a request's `model` (None or "" = the request names no model)."""
        if model is None or model == "":
            return self._default
        if not isinstance(model, str):
            return None
        if (rule := self._exact.get(model)) is not None:
            return rule
        # fnmatchcase: case-sensitive on every OS, unlike fnmatch.fnmatch.
        return next((r for r in self._globs if fnmatch.fnmatchcase(model, r.pattern)), None)

    def pseudo_models(self) -> list[tuple[str, str]]:
        """(pseudo name, upstream name) for exact-name rules that rename the model."""
        out: dict[str, str] = {}
        for rule in self.rules:
            if (
                rule.upstream_model_name is not None
                and not rule.is_glob
                and rule.pattern != DEFAULT_PATTERN
            ):
                out.setdefault(rule.pattern, rule.upstream_model_name)
        return list(out.items())

    def describe(self) -> list[str]:
        return [rule.describe() for rule in self.rules]


# ---------------------------------------------------------------------------------------------
# Shared validation (LLM_PARAMS and config.yaml)


def _check_key(key: object) -> list[str]:
    """A (possibly dotted) request field name, split into its parts."""
    if not isinstance(key, str):
        raise _Invalid(f"key {key!r} must be a string")
    if key == "":
        raise _Invalid("empty key")
    parts = key.split(".")
    if any(p == "" for p in parts):
        raise _Invalid(f"key {key!r} has an empty part")
    if any(c.isspace() or c in '"[]{}' for c in key):
        raise _Invalid(f"key {key!r} contains whitespace, quotes or brackets")
    return parts


def _assign(target: dict[str, Any], key: str, value: Any) -> None:
    """target[a][b]... = value for key "a.b...", refusing to silently overwrite anything."""
    parts = _check_key(key)
    if parts[0] in RESERVED_KEYS or parts[0] == "model":
        what = "set by model/upstream_model_name" if parts[0] == "model" else "a rule setting"
        where = "" if key == parts[0] else f"{key!r}: "
        raise _Invalid(f"{where}{parts[0]!r} is {what}, not a request field")
    node = target
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise _Invalid(f"key {key!r} conflicts with {'.'.join(parts[: i + 1])!r}")
        node = child
    if parts[-1] in node:
        raise _Invalid(f"duplicate key {key!r}")
    node[parts[-1]] = value


def _want_str(key: str, value: Any, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (value == "" and not empty_ok):
        what = "a string" if empty_ok else "a non-empty string"
        raise _Invalid(f"{key} must be {what}, got {_kind(value)}")
    return value


def _want_bool(key: str, value: Any, *, lenient: bool) -> bool:
    # LLM_PARAMS users wrote True/FALSE with the previous generation; accept any case there.
    if lenient and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise _Invalid(f"{key} must be true or false, got {_kind(value)}")
    return value


def _want_tags(value: Any) -> tuple[tuple[str, str], ...]:
    problem = "think_tags must be a non-empty list of [start, end] pairs of non-empty strings"
    if not isinstance(value, list | tuple) or not value:
        raise _Invalid(f"{problem}, got {_kind(value)}")
    pairs = []
    for pair in value:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(t, str) and t for t in pair)
        ):
            raise _Invalid(f"{problem}, got item {_clip(repr(pair))}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _build_rule(
    pattern: str,
    settings: Mapping[str, Any],
    *,
    params: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    source: str,
    lenient: bool,
) -> ModelRule:
    """A ModelRule from reserved-key settings (already typed), validating each one."""
    s = settings
    if "think_mode" in s and "enable_think_tag_filtering" in s:
        raise _Invalid("give think_mode or enable_think_tag_filtering, not both")
    if "think_tags" in s and ("think_tag_start" in s or "think_tag_end" in s):
        raise _Invalid("give think_tags or think_tag_start/think_tag_end, not both")
    think_mode = None
    if "think_mode" in s:
        think_mode = s["think_mode"]
        if think_mode not in THINK_MODES:
            raise _Invalid(
                f"unknown think_mode {_clip(repr(think_mode))} (use {'|'.join(THINK_MODES)})"
            )
    elif "enable_think_tag_filtering" in s:
        # Previous generation's switch: filtering on = strip, off = leave the text alone.
        on = s["enable_think_tag_filtering"]
        on = _want_bool("enable_think_tag_filtering", on, lenient=lenient)
        think_mode = "strip" if on else "keep"

    def opt(key: str, check: Any) -> Any:
        return check(key, s[key]) if key in s else None

    append = s.get("append_to_last_user_message")
    if "append_to_last_user_message" in s:
        # An empty LLM_PARAMS value parses as null: accept it as "append nothing".
        append = _want_str("append_to_last_user_message", append or "", empty_ok=True)
    return ModelRule(
        pattern=pattern,
        params=params or {},
        defaults=defaults or {},
        drop=drop,
        think_mode=think_mode,
        think_tags=_want_tags(s["think_tags"]) if "think_tags" in s else None,
        think_tag_start=opt("think_tag_start", _want_str),
        think_tag_end=opt("think_tag_end", _want_str),
        think_implicit_start=opt(
            "think_implicit_start", lambda k, v: _want_bool(k, v, lenient=lenient)
        ),
        reasoning_field=opt("reasoning_field", _want_str),
        upstream_model_name=opt("upstream_model_name", _want_str),
        append_to_last_user_message=append,
        strip_think_from_history=opt(
            "strip_think_from_history", lambda k, v: _want_bool(k, v, lenient=lenient)
        ),
        source=source,
    )


# ---------------------------------------------------------------------------------------------
# LLM_PARAMS

_CLOSERS = {"[": "]", "{": "}"}
_TEXT_KEYS = frozenset(
    {"think_tag_start", "think_tag_end", "upstream_model_name", "reasoning_field"}
)


def _split_balanced(text: str, sep: str) -> tuple[list[str], str | None]:
    """Split on `sep` outside [..], {..} and "..". Returns (parts, problem or None).

    On a problem, splitting stops and the rest of the text is the last part, so the
    caller can still report which part is broken.
    """
    parts: list[str] = []
    stack: list[str] = []
    start = 0
    in_quote = False
    i = 0
    while i < len(text):
        c = text[i]
        if in_quote:
            if c == "\\":
                i += 1  # an escaped char never ends the string
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c in _CLOSERS:
            stack.append(_CLOSERS[c])
        elif c in "]}":
            if not stack or stack[-1] != c:
                parts.append(text[start:])
                return parts, f"unexpected {c!r}" + (f" (expected {stack[-1]!r})" if stack else "")
            stack.pop()
        elif c == sep and not stack:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    if in_quote:
        return parts, 'unclosed quote (")'
    if stack:
        return parts, f"unclosed bracket (missing {stack[-1]!r})"
    return parts, None


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), text, flags=re.DOTALL)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Invalid(f"number {_clip(text)} is out of range")
    return value


def _not_a_constant(text: str) -> Any:
    raise ValueError(text)  # NaN/Infinity are not JSON: keep them as plain strings


def parse_value(raw: str) -> Any:
    """An LLM_PARAMS value: JSON when it is JSON (numbers, true/false/null, arrays, objects,
    quoted strings), null when empty, else a plain string with \\n, \\t, \\\\ unescaped."""
    if raw == "":
        return None
    try:
        return json.loads(raw, parse_float=_finite_float, parse_constant=_not_a_constant)
    except RecursionError:
        raise _Invalid("value is nested too deeply") from None
    except ValueError:  # not JSON (also: integers too long to convert)
        return _unescape(raw)


def _parse_group(group: str, source: str) -> ModelRule:
    pairs, problem = _split_balanced(group, ",")
    if problem:
        raise _Invalid(problem)
    pattern: str | None = None
    settings: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for pair in pairs:
        pair = pair.strip()
        if not pair:
            continue  # tolerate "a=1,,b=2" and a trailing comma, like empty groups
        key, eq, raw = pair.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq:
            raise _Invalid(f"{_clip(pair)!r} is not key=value")
        if not key:
            raise _Invalid(f"empty key in {_clip(pair)!r}")
        if pattern is None:
            if key != "model":
                raise _Invalid("must start with model=NAME")
            if raw.startswith('"'):
                raw = parse_value(raw)
            pattern = _want_str("model", raw)
        elif key == "model":
            raise _Invalid("model= given twice (missing ';' between groups?)")
        elif key in RESERVED_KEYS:
            if key in settings:
                raise _Invalid(f"duplicate key {key!r}")
            value = parse_value(raw)
            # Tags and names are text, as before: upstream_model_name=1.5 is "1.5", not a number.
            if key in _TEXT_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
                value = raw
            settings[key] = value
        else:
            _assign(params, key, parse_value(raw))
    if pattern is None:
        raise _Invalid("must start with model=NAME")
    return _build_rule(pattern, settings, params=params, source=source, lenient=True)


def parse_llm_params(text: str) -> list[ModelRule]:
    """Rules from `model=NAME,key=value,...;model=NAME2,...` (the LLM_PARAMS variable)."""
    groups, _ = _split_balanced(text, ";")  # a problem is reported by its group below
    rules: list[ModelRule] = []
    seen: dict[str, int] = {}
    for number, group in enumerate(groups, 1):
        group = group.strip()
        if not group:
            continue
        source = f"LLM_PARAMS group {number}"
        try:
            rule = _parse_group(group, source)
            if rule.pattern in seen:
                other = seen[rule.pattern]
                raise _Invalid(f"duplicate model {rule.pattern!r} (also group {other})")
        except _Invalid as e:
            raise ConfigError(f"{source} ({_clip(group)!r}): {e}") from None
        seen[rule.pattern] = number
        rules.append(rule)
    return rules


# ---------------------------------------------------------------------------------------------
# config.yaml


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Refuse YAML values that can't be sent as JSON (dates, sets, NaN, ...)."""
    if depth > _MAX_DEPTH:
        raise _Invalid(f"{where}: nested too deeply")
    if isinstance(value, bool | int | str) or value is None:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid(f"{where}: {value} is not a JSON number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise _Invalid(f"{where}: key {k!r} must be a string")
            _check_json(item, f"{where}.{k}", depth + 1)
        return
    raise _Invalid(f"{where}: {_kind(value)} can't be sent as JSON")


def _yaml_fields(name: str, value: Any) -> dict[str, Any]:
    """params/defaults: a mapping, dotted keys allowed, values sent as JSON."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"{name} must be a mapping, got {_kind(value)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        _check_json(item, f"{name}.{key}")
        try:
            _assign(out, key, copy.deepcopy(item))  # copy: YAML aliases share objects
        except _Invalid as e:
            raise _Invalid(f"{name}: {e}") from None
    return out


def _yaml_drop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(f"drop must be a list of field names, got {_kind(value)}")
    for key in value:
        _check_key(key)
    return tuple(dict.fromkeys(value))


def _yaml_rule(item: Any, number: int, name: str, seen: dict[str, int]) -> ModelRule:
    if not isinstance(item, dict):
        raise _Invalid(f"must be a mapping, got {_kind(item)}")
    for key in item:
        if key not in _YAML_RULE_KEYS:
            hint = difflib.get_close_matches(str(key), _YAML_RULE_KEYS, n=1)
            advice = f"did you mean {hint[0]!r}?" if hint else "request fields go under params"
            raise _Invalid(f"unknown key {key!r} ({advice})")
    if "model" not in item:
        raise _Invalid("missing 'model'")
    pattern = _want_str("model", item["model"])
    if pattern in seen:
        raise _Invalid(f"duplicate model {pattern!r} (also rule {seen[pattern]})")
    settings = {k: v for k, v in item.items() if k in RESERVED_KEYS}
    return _build_rule(
        pattern,
        settings,
        params=_yaml_fields("params", item.get("params")),
        defaults=_yaml_fields("defaults", item.get("defaults")),
        drop=_yaml_drop(item.get("drop")),
        source=f"{name} rule {number}",
        lenient=False,
    )


def _yaml_error(path: str, e: YAMLError) -> ConfigError:
    if isinstance(e, MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        if mark is not None:
            return ConfigError(
                f"{path}: YAML error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
            )
        return ConfigError(f"{path}: YAML error: {problem}")
    return ConfigError(f"{path}: YAML error: {' '.join(str(e).split())}")


def parse_config(text: str, path: str = "config.yaml") -> list[ModelRule]:
    """Rules from config.yaml text (`path` names the file in messages and rule sources)."""
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as e:
        raise _yaml_error(path, e) from None
    except (ValueError, TypeError, RecursionError) as e:
        # ruamel's constructors can fail outside YAMLError on odd scalars (e.g. `._` as a float).
        raise ConfigError(f"{path}: not valid YAML ({type(e).__name__}: {e})") from None
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with a 'models' list")
    unknown = [k for k in data if k not in _YAML_TOP_KEYS]
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {unknown[0]!r} (allowed: models)")
    models = data.get("models")
    if models is None:
        return []
    if not isinstance(models, list):
        raise ConfigError(f"{path}: 'models' must be a list of rules, got {_kind(models)}")
    name = os.path.basename(path) or path
    rules: list[ModelRule] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(models, 1):
        try:
            rule = _yaml_rule(item, number, name, seen)
        except _Invalid as e:
            model = item.get("model") if isinstance(item, dict) else None
            which = f" (model {_clip(str(model))!r})" if model is not None else ""
            raise ConfigError(f"{path} rule {number}{which}: {e}") from None
        seen[rule.pattern] = number
        rules.append(rule)
    return rules


def load_config_file(path: str) -> list[ModelRule]:
    """Rules from a config.yaml file; ConfigError when it can't be read or is invalid."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_config(text, path)


# ---------------------------------------------------------------------------------------------
# Merging


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: `base` with `over` on top, dicts merged recursively, `over` winning."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _overlay(file_rule: ModelRule, env_rule: ModelRule) -> ModelRule:
    """The env rule on top of the file rule with the same pattern, key by key."""
    merged: dict[str, Any] = {}
    for f in dataclasses.fields(ModelRule):
        env_value, file_value = getattr(env_rule, f.name), getattr(file_rule, f.name)
        merged[f.name] = env_value if env_value is not None else file_value
    merged["params"] = deep_merge(file_rule.params, env_rule.params)
    merged["defaults"] = deep_merge(file_rule.defaults, env_rule.defaults)
    merged["drop"] = tuple(dict.fromkeys(file_rule.drop + env_rule.drop))
    merged["source"] = f"{env_rule.source} + {file_rule.source}"
    return ModelRule(**merged)


def merge_rules(env: list[ModelRule], file: list[ModelRule]) -> list[ModelRule]:
    """Env rules first (merged with the file rule of the same pattern), then the file-only rules."""
    by_pattern: dict[str, ModelRule] = {}
    for rule in file:
        by_pattern.setdefault(rule.pattern, rule)
    used: set[str] = set()
    out: list[ModelRule] = []
    for rule in env:
        file_rule = by_pattern.get(rule.pattern)
        if file_rule is not None and rule.pattern not in used:
            used.add(rule.pattern)
            log.debug("%s overrides %s for %r", rule.source, file_rule.source, rule.pattern)
            rule = _overlay(file_rule, rule)
        out.append(rule)
    out += [r for r in file if r.pattern not in used]
    return out


# ---------------------------------------------------------------------------------------------
# Small helpers


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"string {_clip(repr(value))}"
    if isinstance(value, int | float):
        return f"number {value}"
    return {"list": "a list", "dict": "a mapping"}.get(type(value).__name__, type(value).__name__)


def _clip(text: str, limit: int = _CLIP) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_value(value: Any) -> str:
    """A JSON value as compact JSON (one line, clipped) for log lines."""
    return _clip(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _flatten(fields: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in fields.items():
        if isinstance(value, dict) and value:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value
