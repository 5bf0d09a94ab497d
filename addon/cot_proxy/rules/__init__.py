"""Per-model request rules: parsing LLM_PARAMS and config.yaml, merging them, matching a model.

Pure logic, no mitmproxy import. This is the package's face: import from `cot_proxy.rules`,
not from its modules. The addon builds one `RuleSet` at startup with `load_rules()` and, per
request, applies `RuleSet.match(model)` with `cot_proxy.rewrite.rewrite_request`.

- `model`: the table of rule settings, `ModelRule`; `ruleset`: `RuleSet` (matching, variants);
- `checks`: validators and display helpers shared by the two grammars;
- `llm_params`: the LLM_PARAMS grammar; `config_file`: the config.yaml reader;
- `merge`: the env rules over the file rules.

Precedence (documented in config.yaml too):
- The environment wins over the file: for the same `model` pattern the two rules are merged
  key by key, env winning (params/defaults deep-merged, drop lists united).
- Matching: an exact name beats any glob; among globs the first listed wins, env rules
  before file rules. `model=default` applies only when the request names no model.
  `NAME@LABEL` gets the rule of NAME with its variant LABEL on top (config file `variants`).
"""

from __future__ import annotations

from cot_proxy.rules.checks import ConfigError
from cot_proxy.rules.checks import deep_merge
from cot_proxy.rules.checks import show_value
from cot_proxy.rules.config_file import load_config_file
from cot_proxy.rules.config_file import parse_config
from cot_proxy.rules.llm_params import parse_llm_params
from cot_proxy.rules.llm_params import parse_value
from cot_proxy.rules.merge import merge_rules
from cot_proxy.rules.model import DEFAULT_PATTERN
from cot_proxy.rules.model import GLOB_CHARS
from cot_proxy.rules.model import RESERVED_KEYS
from cot_proxy.rules.model import ModelRule
from cot_proxy.rules.model import is_glob
from cot_proxy.rules.ruleset import RuleSet

__all__ = [
    "DEFAULT_PATTERN",
    "GLOB_CHARS",
    "RESERVED_KEYS",
    "ConfigError",
    "ModelRule",
    "RuleSet",
    "deep_merge",
    "is_glob",
    "load_config_file",
    "load_rules",
    "merge_rules",
    "parse_config",
    "parse_llm_params",
    "parse_value",
    "show_value",
]


def load_rules(llm_params: str, rules_file: str) -> RuleSet:
    """The effective rules: LLM_PARAMS text over the rules file at `rules_file` ("" = none).

    ConfigError (one line) on any problem; LLM_PARAMS is checked first.
    """
    env_rules = parse_llm_params(llm_params)
    file_rules = load_config_file(rules_file) if rules_file else []
    return RuleSet(merge_rules(env_rules, file_rules))
