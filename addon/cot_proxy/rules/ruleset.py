"""RuleSet: the effective rules in priority order, and which one a request's model gets.

Pure logic, no mitmproxy import.

- An exact name beats any glob; among globs the first listed wins; `default` applies only
  when the request names no model.
- Variants: a request for `NAME@LABEL`, when the rule of `NAME` has a variant `LABEL`, gets that
  rule overlaid with the variant, and goes upstream as `NAME` (or the upstream_model_name the
  two set). Model names may contain `@` themselves: an exact rule for the whole name comes
  first, and `NAME@other` with no such variant is matched as the name it is.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable
from collections.abc import Iterator

from cot_proxy.rules.model import DEFAULT_PATTERN
from cot_proxy.rules.model import ModelRule

VARIANT_MARK = "@"


class RuleSet:
    """The effective rules, in priority order (env rules first, then file rules)."""

    def __init__(self, rules: Iterable[ModelRule]) -> None:
        self.rules: tuple[ModelRule, ...] = tuple(rules)
        self._default: ModelRule | None = None
        self._exact: dict[str, ModelRule] = {}
        self._globs: list[ModelRule] = []
        # Each rule overlaid with each of its variants, once: (id(rule), label) -> rule.
        self._variants: dict[tuple[int, str], ModelRule] = {}
        for rule in self.rules:  # on duplicates, the first rule wins everywhere
            if rule.pattern == DEFAULT_PATTERN:
                self._default = self._default or rule
            elif rule.is_glob:
                self._globs.append(rule)
            else:
                self._exact.setdefault(rule.pattern, rule)
            for label, variant in rule.variants.items():
                resolved = rule.overlaid(variant, f"{rule.source} variant {label}")
                self._variants[(id(rule), label)] = dataclasses.replace(
                    resolved, pattern=f"{rule.pattern}{VARIANT_MARK}{label}", variants={}
                )

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
        if self._variants:
            name, mark, label = model.rpartition(VARIANT_MARK)
            base = self._named(name) if mark and name else None
            variant = self._variants.get((id(base), label)) if base is not None else None
            if variant is not None:
                if variant.upstream_model_name is None:
                    # NAME@LABEL is ours: the upstream serves NAME.
                    variant = dataclasses.replace(variant, upstream_model_name=name)
                return variant
        return self._glob(model)

    def _named(self, model: str) -> ModelRule | None:
        return self._exact.get(model) or self._glob(model)

    def _glob(self, model: str) -> ModelRule | None:
        # fnmatchcase: case-sensitive on every OS, unlike fnmatch.fnmatch.
        return next((r for r in self._globs if fnmatch.fnmatchcase(model, r.pattern)), None)

    def pseudo_models(self) -> list[tuple[str, str]]:
        """(pseudo name, upstream name) for exact-name rules that rename the model, and
        `NAME@LABEL` for each variant of an exact-name rule."""
        out: dict[str, str] = {}
        for rule in self.rules:
            if rule.is_glob or rule.pattern == DEFAULT_PATTERN:
                continue
            if rule.upstream_model_name is not None:
                out.setdefault(rule.pattern, rule.upstream_model_name)
            if self._exact.get(rule.pattern) is not rule:
                continue  # a duplicate: its variants are never reached
            for label in rule.variants:
                variant = self._variants[(id(rule), label)]
                name = f"{rule.pattern}{VARIANT_MARK}{label}"
                out.setdefault(name, variant.upstream_model_name or rule.pattern)
        return list(out.items())

    def describe(self) -> list[str]:
        return [rule.describe() for rule in self.rules]
