"""The rule model: the table of rule settings, and `ModelRule` built from it.

A rule setting is a key of LLM_PARAMS and of a config.yaml rule that the proxy itself acts on
(never sent upstream). `SETTINGS` is the one list of them: the reserved keys, the keys a
config.yaml rule accepts, which LLM_PARAMS values stay text, how each value is checked and
how `describe` shows it all come from it. A new setting is one row there, a `ModelRule` field
of the same name, and the code that uses it (`think_config`, `cot_proxy.rewrite`). Matching
a request's model to a rule is `cot_proxy.rules.ruleset`. Pure logic, no mitmproxy import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import TypeGuard

from cot_proxy.budget.settings import MODES as BUDGET_MODES
from cot_proxy.budget.settings import parse_budget
from cot_proxy.detect.servers import AUTO
from cot_proxy.detect.servers import SERVER_NAMES
from cot_proxy.rules.checks import Invalid
from cot_proxy.rules.checks import clip
from cot_proxy.rules.checks import deep_merge
from cot_proxy.rules.checks import flatten
from cot_proxy.rules.checks import kind
from cot_proxy.rules.checks import one_of
from cot_proxy.rules.checks import show_value
from cot_proxy.rules.checks import want_bool
from cot_proxy.rules.checks import want_str
from cot_proxy.rules.checks import want_str_list
from cot_proxy.rules.checks import want_tags
from cot_proxy.think import THINK_MODES
from cot_proxy.think import ThinkConfig
from cot_proxy.think import ThinkMode
from cot_proxy.think_config import IMPLICIT_UNCLOSED
from cot_proxy.think_config import RESPONSES_REASONING
from cot_proxy.think_config import ImplicitUnclosed
from cot_proxy.think_config import ResponsesReasoning
from cot_proxy.think_families import FAMILIES
from cot_proxy.think_families import FAMILY_NAMES
from cot_proxy.thinking.knobs import KNOB_NAMES
from cot_proxy.thinking.levels import LEVELS
from cot_proxy.thinking.levels import Level
from cot_proxy.thinking.levels import parse_level

DEFAULT_PATTERN = "default"
GLOB_CHARS = frozenset("*?[")

# (key, value, lenient) -> the ModelRule value, or Invalid. `lenient` is True for LLM_PARAMS,
# whose users wrote True/FALSE with the previous generation.
Check = Callable[[str, Any, bool], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One rule setting: its key, how its value is checked and how the startup log shows it."""

    name: str
    check: Check
    show: Callable[[Any], str] = clip
    # LLM_PARAMS keeps a number as written: tags and names are text, upstream_model_name=1.5
    # is "1.5", not a number.
    text: bool = False
    # A legacy spelling that sets another setting's ModelRule field (and so is not shown).
    alias_of: str | None = None

    @property
    def field(self) -> str:
        """The ModelRule field this setting sets."""
        return self.alias_of or self.name


def _text(key: str, value: Any, lenient: bool) -> str:
    return want_str(key, value)


def _flag(key: str, value: Any, lenient: bool) -> bool:
    return want_bool(key, value, lenient=lenient)


def _is_mode(value: object) -> TypeGuard[ThinkMode]:
    return value in THINK_MODES


def _mode(key: str, value: Any, lenient: bool) -> ThinkMode:
    if not _is_mode(value):
        raise Invalid(f"unknown {key} {clip(repr(value))} (use {'|'.join(THINK_MODES)})")
    return value


HISTORY_MODES: tuple[str, ...] = ("keep", "strip", "to_field", "to_inline")
# Which assistant turns of the history keep their reasoning (in the `history` form); the
# others lose it.
HISTORY_TURNS: tuple[str, ...] = ("all", "tool_calls", "last")


def _family(key: str, value: Any, lenient: bool) -> str:
    # auto: the family detected from the target (cot_proxy.detect).
    if not isinstance(value, str) or (value not in FAMILIES and value != AUTO):
        names = "|".join((AUTO, *FAMILY_NAMES))
        raise Invalid(f"unknown {key} {clip(repr(value))} (use {names})")
    return str(value)


def _thinking(key: str, value: Any, lenient: bool) -> Level:
    if (level := parse_level(value)) is None:  # YAML's false/true (off/on) are levels too
        where = "; Anthropic's thinking object goes under params" if isinstance(value, dict) else ""
        raise Invalid(f"unknown {key} {clip(repr(value))} (use {'|'.join(LEVELS)}{where})")
    return level


def _budget(key: str, value: Any, lenient: bool) -> int:
    if (tokens := parse_budget(value)) is None:  # YAML's "512" is taken too
        raise Invalid(f"{key} must be a whole number of tokens ≥ 1, got {kind(value)}")
    return tokens


def _markers(key: str, value: Any, lenient: bool) -> tuple[str, ...]:
    return want_str_list(key, value)


def _show_markers(markers: tuple[str, ...]) -> str:
    return "[" + " ".join(markers) + "]"


def _filtering(key: str, value: Any, lenient: bool) -> ThinkMode:
    # Previous generation's switch: filtering on = strip, off = leave the text alone.
    return "strip" if want_bool(key, value, lenient=lenient) else "keep"


def _tags(key: str, value: Any, lenient: bool) -> tuple[tuple[str, str], ...]:
    return want_tags(key, value)


def _suffix(key: str, value: Any, lenient: bool) -> str:
    # An empty LLM_PARAMS value parses as null: accept it as "append nothing".
    return want_str(key, value or "", empty_ok=True)


def _show_tags(tags: tuple[tuple[str, str], ...]) -> str:
    return " ".join(f"{start}…{end}" for start, end in tags)


# In the order `describe` shows them, which is also the order they are checked in (the first
# problem is reported). All but think_tags and strip_think_from_history are the previous
# generation's LLM_PARAMS keys; those two are reserved in LLM_PARAMS too so that they can never
# leak upstream as request fields by mistake.
SETTINGS: tuple[Setting, ...] = (
    Setting("think_mode", _mode),
    Setting("enable_think_tag_filtering", _filtering, alias_of="think_mode"),
    Setting("think_family", _family, text=True),
    Setting("think_tags", _tags, show=_show_tags),
    Setting("think_tag_start", _text, text=True),
    Setting("think_tag_end", _text, text=True),
    Setting("reasoning_field", _text, text=True),
    Setting("responses_reasoning", one_of(*RESPONSES_REASONING)),
    Setting("upstream_model_name", _text, text=True),
    Setting("think_implicit_start", _flag, show=show_value),
    Setting("implicit_unclosed", one_of(*IMPLICIT_UNCLOSED)),
    Setting("think_end_markers", _markers, show=_show_markers),
    Setting("history", one_of(*HISTORY_MODES)),
    Setting("history_turns", one_of(*HISTORY_TURNS)),
    Setting("strip_think_from_history", _flag, show=show_value),
    Setting("history_restore", _flag, show=show_value),
    Setting("append_to_last_user_message", _suffix, show=show_value),
    Setting("server", one_of(AUTO, *SERVER_NAMES)),
    Setting("thinking", _thinking),
    Setting("thinking_knob", one_of(*KNOB_NAMES)),
    Setting("think_budget", _budget, show=show_value),
    Setting("think_budget_mode", one_of(*BUDGET_MODES)),
    Setting("think_budget_message", _text, text=True),
)
# Settings that say the same thing two ways: a rule gives one side or the other.
CONFLICTS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("think_mode",), ("enable_think_tag_filtering",)),
    (("think_tags",), ("think_tag_start", "think_tag_end")),
    (("history",), ("strip_think_from_history",)),
)
RESERVED_KEYS: tuple[str, ...] = tuple(s.name for s in SETTINGS)
# A setting that is also a request field (Anthropic's `thinking` object): an object, a dotted
# key or a `params` entry is the field.
ALSO_FIELDS: frozenset[str] = frozenset({"thinking"})
FIELD_RESERVED: tuple[str, ...] = tuple(k for k in RESERVED_KEYS if k not in ALSO_FIELDS)
TEXT_KEYS: frozenset[str] = frozenset(s.name for s in SETTINGS if s.text)


@dataclasses.dataclass(frozen=True)
class ModelRule:
    """What to do with requests for the models matching `pattern`.

    None means "not set by this rule" (the global default applies). `params` and `defaults`
    are nested dicts (dotted keys already expanded); treat them as read-only. The fields
    between `drop` and `variants` are the (non-alias) SETTINGS, by name. `variants` (config
    file only): label → a partial rule (its pattern is the label) that a request for
    `NAME@LABEL` gets on top of this one (`overlaid`).
    """

    pattern: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    drop: tuple[str, ...] = ()
    think_mode: ThinkMode | None = None
    # A preset of the tag settings (cot_proxy.think_families); the keys below override it.
    think_family: str | None = None
    think_tags: tuple[tuple[str, str], ...] | None = None
    # LLM_PARAMS-style single tags: they replace the start/end of the first pair.
    think_tag_start: str | None = None
    think_tag_end: str | None = None
    think_implicit_start: bool | None = None
    implicit_unclosed: ImplicitUnclosed | None = None
    think_end_markers: tuple[str, ...] | None = None
    reasoning_field: str | None = None
    # Responses API, reasoning mode: text|summary|both (ThinkConfig.responses_reasoning).
    responses_reasoning: ResponsesReasoning | None = None
    upstream_model_name: str | None = None
    append_to_last_user_message: str | None = None
    # What happens to reasoning in the assistant messages of the request:
    # keep|strip|to_field|to_inline; and on which turns it stays: all|tool_calls|last.
    history: str | None = None
    history_turns: str | None = None
    # The old spelling of history: strip (true) / keep (false).
    strip_think_from_history: bool | None = None
    history_restore: bool | None = None  # the reasoning memory puts dropped reasoning back
    # The server behind this model's name (targets that route models to several servers):
    # how its family is probed (cot_proxy.detect).
    server: str | None = None
    # cot_proxy.thinking: the level, and the knob by hand (else the model's row)
    thinking: Level | None = None
    thinking_knob: str | None = None
    # cot_proxy.budget: reasoning tokens, how they are held (auto|native|proxy), the wrap-up
    think_budget: int | None = None
    think_budget_mode: str | None = None
    think_budget_message: str | None = None
    variants: dict[str, ModelRule] = dataclasses.field(default_factory=dict)
    source: str = ""

    @property
    def history_mode(self) -> str:
        if self.history is not None:
            return self.history
        return "strip" if self.strip_think_from_history else "keep"

    @property
    def is_glob(self) -> bool:
        return is_glob(self.pattern)

    def think_config(self, base: ThinkConfig) -> ThinkConfig:
        """`base` (the global settings) overlaid with what this rule sets: its think_family
        first, then its other keys."""
        if self.think_family is not None and self.think_family != AUTO:
            base = FAMILIES[self.think_family].apply(base)
        tags = self.think_tags if self.think_tags is not None else base.tags
        if self.think_tag_start is not None or self.think_tag_end is not None:
            start, end = tags[0] if tags else ThinkConfig().tags[0]
            first = (self.think_tag_start or start, self.think_tag_end or end)
            tags = (first, *tags[1:])
        return dataclasses.replace(
            base,
            mode=self.think_mode if self.think_mode is not None else base.mode,
            tags=tuple(tags),
            implicit_start=(
                self.think_implicit_start
                if self.think_implicit_start is not None
                else base.implicit_start
            ),
            reasoning_field=self.reasoning_field or base.reasoning_field,
            responses_reasoning=self.responses_reasoning or base.responses_reasoning,
            end_markers=(
                self.think_end_markers if self.think_end_markers is not None else base.end_markers
            ),
            implicit_unclosed=self.implicit_unclosed or base.implicit_unclosed,
        )

    def overlaid(self, over: ModelRule, source: str) -> ModelRule:
        """This rule with `over` on top, key by key, `over` winning: params and defaults
        deep-merged, drop lists united, every other setting taken from `over` when it sets it.
        The env rule over the file rule of its pattern; a variant over its rule."""
        merged: dict[str, Any] = {}
        for f in dataclasses.fields(ModelRule):  # every setting, so a new one needs nothing here
            mine, theirs = getattr(self, f.name), getattr(over, f.name)
            merged[f.name] = theirs if theirs is not None else mine
        merged["pattern"] = self.pattern
        merged["params"] = deep_merge(self.params, over.params)
        merged["defaults"] = deep_merge(self.defaults, over.defaults)
        merged["drop"] = tuple(dict.fromkeys(self.drop + over.drop))
        merged["variants"] = {**self.variants, **over.variants}
        merged["source"] = source
        return ModelRule(**merged)

    def describe(self) -> str:
        """One compact line for the startup log."""
        items = self._items()
        for label, variant in self.variants.items():
            items.append(f"variant @{label} ({', '.join(variant._items()) or 'no changes'})")
        where = f" [{self.source}]" if self.source else ""
        return f"{self.pattern}{where}: " + (", ".join(items) if items else "(no changes)")

    def _items(self) -> list[str]:
        items = [f"{k}={show_value(v)}" for k, v in flatten(self.params)]
        items += [f"default {k}={show_value(v)}" for k, v in flatten(self.defaults)]
        items += [f"drop {k}" for k in self.drop]
        for setting in SETTINGS:
            value = getattr(self, setting.name) if setting.alias_of is None else None
            if value is not None:
                items.append(f"{setting.name}={setting.show(value)}")
        return items


def build_rule(
    pattern: str,
    settings: Mapping[str, Any],
    *,
    params: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    variants: dict[str, ModelRule] | None = None,
    source: str,
    lenient: bool,
) -> ModelRule:
    """A ModelRule from rule settings (keys of RESERVED_KEYS, values as the grammar typed them),
    validating each one. `lenient`: accept LLM_PARAMS spellings (see `Check`)."""
    for one, other in CONFLICTS:
        if any(k in settings for k in one) and any(k in settings for k in other):
            raise Invalid(f"give {'/'.join(one)} or {'/'.join(other)}, not both")
    fields = {
        s.field: s.check(s.name, settings[s.name], lenient) for s in SETTINGS if s.name in settings
    }
    return ModelRule(
        pattern=pattern,
        params=params or {},
        defaults=defaults or {},
        drop=drop,
        variants=variants or {},
        source=source,
        **fields,
    )


def is_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)
