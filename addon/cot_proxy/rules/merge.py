"""Merging the LLM_PARAMS rules over the config.yaml rules.

Pure logic, no mitmproxy import. For the same `model` pattern the two rules are merged key by
key, the environment winning (`ModelRule.overlaid`): params/defaults deep-merged, drop lists
united, every other setting taken from the env rule when it sets it.
"""

from __future__ import annotations

import logging

from cot_proxy.rules.checks import deep_merge
from cot_proxy.rules.model import ModelRule

__all__ = ["deep_merge", "merge_rules"]

logger = logging.getLogger(__name__)


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
            rule = file_rule.overlaid(rule, f"{rule.source} + {file_rule.source}")
        out.append(rule)
    out += [r for r in file if r.pattern not in used]
    return out
