"""The config.yaml reader: a `models:` list of rules, in YAML's native types, into ModelRules.

Pure logic, no mitmproxy import. Any mistake is a ConfigError of one line naming the file,
the rule and the problem.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.error import YAMLError

from cot_proxy.rules.checks import ConfigError
from cot_proxy.rules.checks import Invalid
from cot_proxy.rules.checks import assign
from cot_proxy.rules.checks import check_key
from cot_proxy.rules.checks import clip
from cot_proxy.rules.checks import close_key
from cot_proxy.rules.checks import kind
from cot_proxy.rules.checks import unknown_key
from cot_proxy.rules.checks import want_str
from cot_proxy.rules.model import DEFAULT_PATTERN
from cot_proxy.rules.model import FIELD_RESERVED
from cot_proxy.rules.model import RESERVED_KEYS
from cot_proxy.rules.model import ModelRule
from cot_proxy.rules.model import build_rule
from cot_proxy.rules.ruleset import VARIANT_MARK

# Keys of one config.yaml rule besides the rule settings.
_STRUCTURE_KEYS: tuple[str, ...] = ("model", "params", "defaults", "drop", "variants")
_RULE_KEYS: tuple[str, ...] = _STRUCTURE_KEYS + RESERVED_KEYS
# A variant is a partial rule: anything but a name of its own and variants of its own.
_NOT_IN_VARIANTS: dict[str, str] = {
    "model": "a request names it as NAME@LABEL (upstream_model_name sets what goes upstream)",
    "variants": "variants do not nest",
}
_VARIANT_KEYS: tuple[str, ...] = tuple(k for k in _RULE_KEYS if k not in _NOT_IN_VARIANTS)
_TOP_KEYS: tuple[str, ...] = ("models",)

_MAX_DEPTH = 64


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Refuse YAML values that can't be sent as JSON (dates, sets, NaN, ...)."""
    if depth > _MAX_DEPTH:
        raise Invalid(f"{where}: nested too deeply")
    if isinstance(value, bool | int | str) or value is None:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid(f"{where}: {value} is not a JSON number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise Invalid(f"{where}: key {k!r} must be a string")
            _check_json(item, f"{where}.{k}", depth + 1)
        return
    raise Invalid(f"{where}: {kind(value)} can't be sent as JSON")


def _yaml_fields(name: str, value: Any) -> dict[str, Any]:
    """params/defaults: a mapping, dotted keys allowed, values sent as JSON."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{name} must be a mapping, got {kind(value)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        _check_json(item, f"{name}.{key}")
        try:
            # copy: YAML aliases share objects
            assign(out, key, copy.deepcopy(item), reserved=FIELD_RESERVED)
        except Invalid as e:
            raise Invalid(f"{name}: {e}") from None
    return out


def _yaml_drop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Invalid(f"drop must be a list of field names, got {kind(value)}")
    for key in value:
        check_key(key)
    return tuple(dict.fromkeys(value))


def _check_keys(item: dict[Any, Any], allowed: tuple[str, ...]) -> None:
    for key in item:
        if key not in allowed:
            raise unknown_key(key, close_key(key, allowed), "request fields go under params")


def _build(
    pattern: str, item: dict[str, Any], source: str, variants: dict[str, ModelRule] | None = None
) -> ModelRule:
    settings = {k: v for k, v in item.items() if k in RESERVED_KEYS}
    return build_rule(
        pattern,
        settings,
        params=_yaml_fields("params", item.get("params")),
        defaults=_yaml_fields("defaults", item.get("defaults")),
        drop=_yaml_drop(item.get("drop")),
        variants=variants,
        source=source,
        lenient=False,
    )


def _yaml_variants(value: Any, pattern: str, source: str) -> dict[str, ModelRule]:
    """variants: label -> a partial rule (params, defaults, drop, think settings)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"variants must be a mapping of label to partial rule, got {kind(value)}")
    if value and pattern == DEFAULT_PATTERN:
        raise Invalid("the default rule has no model name to ask for NAME@LABEL: no variants")
    out: dict[str, ModelRule] = {}
    for label, item in value.items():
        if not isinstance(label, str) or not label or VARIANT_MARK in label:
            raise Invalid(f"variant label {label!r} must be a non-empty string without '@'")
        where = f"variants.{label}"
        if not isinstance(item, dict):
            raise Invalid(
                f"{where} must be a mapping (params, defaults, drop, think settings), "
                f"got {kind(item)}"
            )
        for key, why in _NOT_IN_VARIANTS.items():
            if key in item:
                raise Invalid(f"{where}: a variant can't set {key!r}: {why}")
        try:
            _check_keys(item, _VARIANT_KEYS)
            out[label] = _build(label, item, f"{source} variant {label}")
        except Invalid as e:
            raise Invalid(f"{where}: {e}") from None
    return out


def _yaml_rule(item: Any, number: int, name: str, seen: dict[str, int]) -> ModelRule:
    if not isinstance(item, dict):
        raise Invalid(f"must be a mapping, got {kind(item)}")
    _check_keys(item, _RULE_KEYS)
    if "model" not in item:
        raise Invalid("missing 'model'")
    pattern = want_str("model", item["model"])
    if pattern in seen:
        raise Invalid(f"duplicate model {pattern!r} (also rule {seen[pattern]})")
    source = f"{name} rule {number}"
    variants = _yaml_variants(item.get("variants"), pattern, source)
    return _build(pattern, item, source, variants)


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
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {unknown[0]!r} (allowed: models)")
    models = data.get("models")
    if models is None:
        return []
    if not isinstance(models, list):
        raise ConfigError(f"{path}: 'models' must be a list of rules, got {kind(models)}")
    name = os.path.basename(path) or path
    rules: list[ModelRule] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(models, 1):
        try:
            rule = _yaml_rule(item, number, name, seen)
        except Invalid as e:
            model = item.get("model") if isinstance(item, dict) else None
            which = f" (model {clip(str(model))!r})" if model is not None else ""
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
