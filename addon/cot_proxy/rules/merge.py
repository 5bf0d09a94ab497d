"""Merging the LLM_PARAMS rules over the config.yaml rules.

Pure logic, no mitmproxy import. For the same `model` pattern the two rules are merged key by
key, the environment winning: params/defaults deep-merged, drop lists united, every other
setting taken from the env rule when it sets it.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from cot_proxy.rules.model import ModelRule

logger = logging.getLogger(__name__)


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
    for f in dataclasses.fields(ModelRule):  # every setting, so a new one needs nothing here
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
            logger.debug("%s overrides %s for %r", rule.source, file_rule.source, rule.pattern)
            rule = _overlay(file_rule, rule)
        out.append(rule)
    out += [r for r in file if r.pattern not in used]
    return out
