"""The LLM_PARAMS grammar: `model=NAME,key=value,...;model=NAME2,...` into ModelRules.

Pure logic, no mitmproxy import.

Groups split on ";", pairs on ",", key and value on the first "=", except inside [...], {...}
and "...". Values are JSON when they are JSON, else text (see `parse_value`). Keys of
RESERVED_KEYS are rule settings; any other key is a forced request field ("params").
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from cot_proxy.rules.checks import ConfigError
from cot_proxy.rules.checks import Invalid
from cot_proxy.rules.checks import assign
from cot_proxy.rules.checks import clip
from cot_proxy.rules.checks import near_miss
from cot_proxy.rules.checks import unknown_key
from cot_proxy.rules.checks import want_str
from cot_proxy.rules.model import ALSO_FIELDS
from cot_proxy.rules.model import FIELD_RESERVED
from cot_proxy.rules.model import RESERVED_KEYS
from cot_proxy.rules.model import TEXT_KEYS
from cot_proxy.rules.model import ModelRule
from cot_proxy.rules.model import build_rule

_CLOSERS = {"[": "]", "{": "}"}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


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


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), text, flags=re.DOTALL)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Invalid(f"number {clip(text)} is out of range")
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
        raise Invalid("value is nested too deeply") from None
    except ValueError:  # not JSON (also: integers too long to convert)
        return _unescape(raw)


def _parse_group(group: str, source: str) -> ModelRule:
    pairs, problem = _split_balanced(group, ",")
    if problem:
        raise Invalid(problem)
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
            raise Invalid(f"{clip(pair)!r} is not key=value")
        if not key:
            raise Invalid(f"empty key in {clip(pair)!r}")
        if pattern is None:
            if key != "model":
                raise Invalid("must start with model=NAME")
            if raw.startswith('"'):
                raw = parse_value(raw)
            pattern = want_str("model", raw)
        elif key == "model":
            raise Invalid("model= given twice (missing ';' between groups?)")
        elif key in RESERVED_KEYS and not (
            key in ALSO_FIELDS and isinstance(parse_value(raw), dict)
        ):
            if key in settings:
                raise Invalid(f"duplicate key {key!r}")
            value = parse_value(raw)
            # Tags and names are text, as before: upstream_model_name=1.5 is "1.5".
            if key in TEXT_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
                value = raw
            settings[key] = value
        elif slip := near_miss(key.split(".", 1)[0], RESERVED_KEYS):
            # Not sent as a request field: a rule setting mistyped (think_mod=…), silently ignored.
            raise unknown_key(key, slip)
        else:
            assign(params, key, parse_value(raw), reserved=FIELD_RESERVED)
    if pattern is None:
        raise Invalid("must start with model=NAME")
    return build_rule(pattern, settings, params=params, source=source, lenient=True)


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
                raise Invalid(f"duplicate model {rule.pattern!r} (also group {other})")
        except Invalid as e:
            raise ConfigError(f"{source} ({clip(group)!r}): {e}") from None
        seen[rule.pattern] = number
        rules.append(rule)
    return rules
